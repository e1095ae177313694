"""A real Celery worker (threads pool, own queue) summarising through Redis and PostgreSQL."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from articles.models import Article, ModelCall
from tests import factories, processes
from tests.fakes.anthropic_server import FakeAnthropic, error

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(
        not (os.environ.get("REDIS_URL") and settings.IS_POSTGRES),
        reason="needs a real broker and database: set REDIS_URL and a postgres DATABASE_URL",
    ),
]


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_summarises_articles_and_retries_a_529_with_backoff(tmp_path):
    from articles.summarizers.tasks import summarize_article

    queue = f"test_summaries_{os.getpid()}"
    articles = [factories.make_article() for _ in range(4)]

    with FakeAnthropic(latency=0.2) as fake:
        fake.script.append(error(529, "overloaded_error", "Overloaded"))
        worker = processes.start_worker(
            tmp_path / "worker.log",
            queues=queue,
            concurrency=4,
            ANTHROPIC_BASE_URL=fake.url,
            ANTHROPIC_API_KEY="worker-key",
            SUMMARY_BACKEND="anthropic",
            SUMMARY_DAILY_BUDGET_USD="0",
        )
        try:
            for article in articles:  # queued before the worker is up: nothing is lost
                summarize_article.apply_async(args=[article.pk], queue=queue)
            processes.wait_until(
                lambda: Article.objects.filter(status=Article.Status.IN_REVIEW).count() == len(articles),
                timeout=45,
                message="all articles in review",
            )
        finally:
            processes.stop(worker)

    output = (tmp_path / "worker.log").read_text()
    assert "Traceback" not in output, output
    assert len(fake.requests) == len(articles) + 1  # one 529, retried once
    assert ModelCall.objects.filter(outcome="error").count() == 1
    assert ModelCall.objects.filter(outcome="ok").count() == len(articles)
