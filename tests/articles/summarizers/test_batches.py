"""Message Batches: a backlog goes through the Batches API at half price, with per-item fallback."""

from __future__ import annotations

import pytest

from articles.models import Article, ModelCall, SummaryBatch
from articles.summarizers import backends
from articles.summarizers.base import Usage
from articles.summarizers.tasks import (
    poll_summary_batches,
)
from tests import factories
from tests.articles.summarizers.conftest import summarize

# Tasks enqueued here (sweeper, batch fallback) run in-process on both CI legs.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

Status = Article.Status


def test_a_backlog_above_the_threshold_goes_through_a_batch_with_per_item_fallback(fake_anthropic, settings):
    settings.SUMMARY_BATCH_THRESHOLD = 2
    articles = [factories.make_article() for _ in range(3)]
    assert summarize(articles[0]).result == "deferred"  # the batch will take it
    fake_anthropic.batch_polls_until_ended = 2
    fake_anthropic.batch_errored_ids = {str(articles[2].pk)}

    poll_summary_batches.apply()  # submits the batch
    batch = SummaryBatch.objects.get()
    assert sorted(batch.article_ids) == sorted(a.pk for a in articles)
    assert set(Article.objects.values_list("status", flat=True)) == {Status.SUMMARIZING}
    poll_summary_batches.apply()  # still in progress
    poll_summary_batches.apply()  # ended: results stored, the errored item retried alone

    batch.refresh_from_db()
    assert batch.status == "ended" and batch.finished_at
    assert set(Article.objects.values_list("status", flat=True)) == {Status.IN_REVIEW}
    batched_call = ModelCall.objects.filter(article=articles[0]).get()
    assert batched_call.outcome == "batch"
    usage = Usage(
        batched_call.input_tokens,
        batched_call.output_tokens,
        batched_call.cache_write_tokens,
        batched_call.cache_read_tokens,
    )
    assert batched_call.cost_usd == backends.cost_of(usage, "claude-haiku-4-5", batch=True)
    assert batched_call.cost_usd < backends.cost_of(usage, "claude-haiku-4-5")
    assert len(fake_anthropic.requests) == 1  # the single fallback call for the errored item
