"""Fault 4: the model API is overloaded (HTTP 529) for a while, then recovers."""

from __future__ import annotations

import os
import time

import pytest

from articles.models import Article, ModelCall, Summary
from tests import factories, processes
from tests.fakes.anthropic_server import FakeAnthropic, error

from .conftest import needs_services, queue_name, worker_log

ARTICLES = 6
# The issue asks for 30 s; 10 s exercises the same path (three or four backed-off retries)
# and keeps the suite fast. FAULTS_MODEL_OUTAGE_SECONDS=30 runs the full-length outage.
OUTAGE_SECONDS = float(os.environ.get("FAULTS_MODEL_OUTAGE_SECONDS", "10"))


@pytest.mark.faults
@needs_services
def test_a_model_outage_delays_summaries_but_fails_none_and_pays_for_none_twice(
    transactional_db, tmp_path, spawn
):
    from articles.summarizers.tasks import summarize_article

    queue = queue_name("summaries")
    articles = [factories.make_article() for _ in range(ARTICLES)]

    with FakeAnthropic(latency=0.05) as fake:
        outage_ends = time.monotonic() + OUTAGE_SECONDS

        def overloaded_until_the_outage_ends(body: dict):
            if time.monotonic() < outage_ends:
                return error(529, "overloaded_error", "Overloaded")
            return None  # the fake's normal, valid summary

        fake.script.extend([overloaded_until_the_outage_ends] * 1000)
        spawn(
            "worker",
            queues=queue,
            concurrency=ARTICLES,
            ANTHROPIC_BASE_URL=fake.url,
            ANTHROPIC_API_KEY="test",
            SUMMARY_BACKEND="anthropic",
            SUMMARY_DAILY_BUDGET_USD="0",
        )
        for article in articles:
            summarize_article.apply_async(args=[article.pk], queue=queue)

        processes.wait_until(
            lambda: Article.objects.filter(status=Article.Status.IN_REVIEW).count() == ARTICLES,
            timeout=OUTAGE_SECONDS + 60,
            interval=0.5,
            message="every article in review after the outage",
        )

    assert "Traceback" not in worker_log(tmp_path, "worker")
    assert not Article.objects.filter(status=Article.Status.FAILED).exists()
    for article in articles:
        assert Summary.objects.filter(article=article, kind=Summary.Kind.AI).count() == 1
        assert ModelCall.objects.filter(article=article, outcome="ok").count() == 1
        # Every article met the outage and was retried, not failed.
        assert ModelCall.objects.filter(article=article, outcome="error").count() >= 1
    assert ModelCall.objects.filter(outcome="error").exclude(error__contains="529").count() == 0
    # Every request the fake saw is recorded exactly once: 529s as errors, the rest as ok.
    assert ModelCall.objects.count() == len(fake.requests)
