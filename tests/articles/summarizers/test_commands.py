"""The summarize command."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

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


def test_summarize_pending_with_nothing_pending_says_so_and_succeeds():
    factories.make_review_article()  # already summarised: not pending
    out = StringIO()

    call_command("summarize", "--pending", stdout=out)  # raises CommandError (exit 1) on failure

    assert out.getvalue().strip() == "Nothing is waiting for a summary."


def test_summarize_without_articles_or_pending_is_a_usage_error():
    with pytest.raises(CommandError, match="--article ID or --pending"):
        call_command("summarize")
