"""Fault 1: a worker is killed (SIGKILL) while it waits on slow model calls."""

from __future__ import annotations

import signal

import pytest

from articles.models import Article, ModelCall, Summary
from articles.summarizers import sweeper
from tests import factories, processes
from tests.fakes.anthropic_server import FakeAnthropic

from .conftest import needs_services, queue_name, worker_log

ARTICLES = 6
CONCURRENCY = 4


@pytest.mark.faults
@needs_services
def test_a_worker_killed_mid_summary_leaves_every_article_summarised_exactly_once(
    transactional_db, tmp_path, spawn, settings
):
    from articles.summarizers.tasks import summarize_article

    queue = queue_name("summaries")
    articles = [factories.make_article() for _ in range(ARTICLES)]
    model_env = {
        "SUMMARY_BACKEND": "anthropic",
        "ANTHROPIC_API_KEY": "test",
        "SUMMARY_DAILY_BUDGET_USD": "0",
    }

    with FakeAnthropic(latency=60) as fake:
        worker = spawn(
            "worker-1", queues=queue, concurrency=CONCURRENCY, ANTHROPIC_BASE_URL=fake.url, **model_env
        )
        for article in articles:
            summarize_article.apply_async(args=[article.pk], queue=queue)
        # The first worker takes CONCURRENCY articles and hangs in the model call with them.
        processes.wait_until(lambda: len(fake.requests) == CONCURRENCY, timeout=30, message="calls in flight")
        in_flight = Article.objects.filter(status=Article.Status.SUMMARIZING).count()
        assert in_flight == CONCURRENCY

        processes.stop(worker, sig=signal.SIGKILL)
        assert worker.returncode == -signal.SIGKILL
        fake.latency = 0.1

        # The killed worker's messages wait in Redis until the broker's visibility timeout
        # (an hour); the sweeper releases the stuck articles long before that.
        settings.SUMMARY_STUCK_AFTER_SECONDS = 0
        released = sweeper.summaries_sweep()
        assert len(released) >= in_flight
        spawn("worker-2", queues=queue, concurrency=CONCURRENCY, ANTHROPIC_BASE_URL=fake.url, **model_env)
        for article_id in released:  # duplicates of still-queued tasks are harmless: claim is CAS
            summarize_article.apply_async(args=[article_id], queue=queue)

        processes.wait_until(
            lambda: Article.objects.filter(status=Article.Status.IN_REVIEW).count() == ARTICLES,
            timeout=30,
            message="every article in review",
        )
        # Let any duplicate message run to its (skipping) end before counting.
        processes.wait_until(lambda: len(fake.requests) >= ARTICLES + in_flight, timeout=10)

    assert "Traceback" not in worker_log(tmp_path, "worker-2")
    for article in articles:
        assert Summary.objects.filter(article=article, kind=Summary.Kind.AI).count() == 1
        assert ModelCall.objects.filter(article=article).count() == 1
        assert ModelCall.objects.get(article=article).outcome == "ok"
    # The killed calls were answered by nobody: paid for at most by the provider, never
    # recorded twice by us. Each article cost one recorded call.
    assert len(fake.requests) == ARTICLES + in_flight
    assert Article.objects.filter(status=Article.Status.SUMMARIZING).count() == 0
