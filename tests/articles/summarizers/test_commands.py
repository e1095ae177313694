"""The summarize command."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from articles.models import Article, Summary
from tests import factories

# Tasks enqueued here (sweeper, batch fallback) run in-process on both CI legs.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

Status = Article.Status


def test_the_summarize_command_prints_each_outcome_with_tokens_and_cost(fake_anthropic, capsys):
    first, second = factories.make_article(), factories.make_article()

    call_command("summarize", "--pending", "--limit", "1")
    call_command("summarize", "--article", str(second.pk), "--backend", "extractive")

    out = capsys.readouterr().out
    assert f"article {first.pk}: summarized" in out and "cache_write=" in out and "$0.0" in out
    assert f"article {second.pk}: summarized" in out
    assert Article.objects.get(pk=second.pk).latest_summary.kind == Summary.Kind.EXTRACTIVE
