"""A real Celery worker (threads pool, own queue) summarising through Redis and PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

from articles.models import Article, ModelCall
from tests import factories
from tests.fakes.anthropic_server import FakeAnthropic, error

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(
        not (os.environ.get("REDIS_URL") and settings.IS_POSTGRES),
        reason="needs a real broker and database: set REDIS_URL and a postgres DATABASE_URL",
    ),
]


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_summarises_articles_and_retries_a_529_with_backoff():
    from articles.tasks import summarize_article
    from newsroom.celery import app

    queue, node = f"test_summaries_{os.getpid()}", f"test-summaries-{os.getpid()}@{socket.gethostname()}"
    articles = [factories.make_article() for _ in range(4)]
    db = settings.DATABASES["default"]
    test_db_url = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + db["NAME"]))

    with FakeAnthropic(latency=0.2) as fake:
        fake.script.append(error(529, "overloaded_error", "Overloaded"))
        env = {
            **os.environ,
            "DATABASE_URL": test_db_url,
            "ANTHROPIC_BASE_URL": fake.url,
            "ANTHROPIC_API_KEY": "worker-key",
            "SUMMARY_BACKEND": "anthropic",
            "SUMMARY_DAILY_BUDGET_USD": "0",
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "newsroom", "worker", "-P", "threads", "-c", "4",
             "-Q", queue, "--prefetch-multiplier", "1", "-n", node, "-l", "warning"],
            cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while not app.control.ping(destination=[node], timeout=0.5):
                assert worker.poll() is None and time.monotonic() < deadline, "worker did not start"
            for article in articles:
                summarize_article.apply_async(args=[article.pk], queue=queue)
            deadline = time.monotonic() + 30
            while Article.objects.filter(status=Article.Status.IN_REVIEW).count() < len(articles):
                assert time.monotonic() < deadline, list(
                    Article.objects.values_list("status", "status_reason")
                )
                time.sleep(0.2)
        finally:
            worker.terminate()
            output = worker.communicate(timeout=30)[0]

    assert "Traceback" not in output, output
    assert len(fake.requests) == len(articles) + 1  # one 529, retried once
    assert ModelCall.objects.filter(outcome="error").count() == 1
    assert ModelCall.objects.filter(outcome="ok").count() == len(articles)
