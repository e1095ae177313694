"""The daily budget: past it, paid summaries wait and nothing is dropped."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from articles.models import Article, ModelCall
from articles.summarizers import budget
from tests import factories
from tests.articles.summarizers.conftest import summarize

# Tasks enqueued here (sweeper, batch fallback) run in-process on both CI legs.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

Status = Article.Status


def test_past_the_daily_budget_articles_wait_and_nothing_is_dropped(fake_anthropic, settings):
    settings.SUMMARY_DAILY_BUDGET_USD = Decimal("1.00")
    ModelCall.objects.create(
        backend="anthropic", model="claude-haiku-4-5", outcome="ok", cost_usd=Decimal("1.00")
    )
    yesterday = timezone.now() - timedelta(days=1)
    ModelCall.objects.create(
        backend="anthropic", model="m", outcome="ok", cost_usd=Decimal("9"), created_at=yesterday
    )
    article = factories.make_article()

    outcome = summarize(article)

    assert budget.spend_today() == Decimal("1.00") and budget.budget_exhausted()
    assert outcome.result == "paused" and fake_anthropic.requests == []
    assert article.status == Status.EXTRACTED and "budget" in article.status_reason
    assert "paused" in budget.budget_status()

    settings.SUMMARY_DAILY_BUDGET_USD = Decimal("50")  # e.g. the next day
    assert summarize(article).result == "summarized"


def test_the_extractive_backend_is_free_and_ignores_the_budget(settings):
    settings.SUMMARY_DAILY_BUDGET_USD = Decimal("0.01")
    ModelCall.objects.create(backend="anthropic", model="m", outcome="ok", cost_usd=Decimal("1"))
    article = factories.make_article()

    assert summarize(article, backend="extractive").result == "summarized"
    assert ModelCall.objects.count() == 1
