"""Fixtures for the summary tests: the model APIs as loopback servers, driven by the real clients."""

from __future__ import annotations

import pytest

from articles.models import Article
from articles.summarizers import workflow
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def fake_anthropic(settings, monkeypatch):
    with FakeAnthropic() as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        settings.ANTHROPIC_API_KEY = "test-key"
        settings.SUMMARY_BACKEND = "anthropic"
        yield fake


@pytest.fixture
def fake_openai(settings):
    with FakeOpenAI() as fake:
        settings.OPENAI_COMPAT_BASE_URL = fake.url
        settings.OPENAI_COMPAT_MODEL = "local-llama"
        settings.OPENAI_COMPAT_API_KEY = "local-key"
        settings.SUMMARY_BACKEND = "openai_compat"
        yield fake


def summarize(article: Article, **kwargs) -> workflow.SummarizeOutcome:
    """Summarise now, in this process, and refresh the article."""
    outcome = workflow.article_summarize(article_id=article.pk, **kwargs)
    article.refresh_from_db()
    return outcome
