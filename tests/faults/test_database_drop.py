"""Fault 3: PostgreSQL drops every connection (pg_terminate_backend) under load."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter

import httpx
import pytest
from django.db import connection

from articles.models import Article, ModelCall, Summary
from tests import factories, processes
from tests.fakes.anthropic_server import FakeAnthropic

from .conftest import needs_services, queue_name, worker_log

DROP_SECONDS = 3.0
DATABASE_ERRORS = {
    "django.db.utils.OperationalError",
    "django.db.utils.InterfaceError",
    "psycopg.OperationalError",
    "psycopg.InterfaceError",
    "psycopg.errors.AdminShutdown",
}


def terminate_other_backends() -> int:
    """Kill every other session on the test database, as a failover or a DBA would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def keep_dropping(seconds: float) -> int:
    killed, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        killed += terminate_other_backends()
        time.sleep(0.05)
    return killed


@pytest.mark.faults
@needs_services
def test_pages_answer_200_or_a_styled_503_while_connections_drop_and_recover_in_seconds(
    transactional_db, tmp_path, track
):
    article = factories.make_published_article()
    # The anonymous page cache would answer from Redis and hide the database; switch it off.
    proc, port = processes.start_gunicorn(tmp_path / "gunicorn.log", workers=2, PAGE_CACHE_SECONDS="0")
    track(proc)
    base = f"http://127.0.0.1:{port}"
    paths = ["/", f"/a/{article.slug}/"]
    with httpx.Client(base_url=base, timeout=10) as client:
        for path in paths:
            assert client.get(path).status_code == 200

    responses: list[httpx.Response] = []
    stop = threading.Event()

    def browse() -> None:
        with httpx.Client(base_url=base, timeout=10) as client:
            n = 0
            while not stop.is_set():
                responses.append(client.get(paths[n % len(paths)]))
                n += 1

    readers = [threading.Thread(target=browse) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        time.sleep(0.3)
        killed = keep_dropping(DROP_SECONDS)
        dropped_at = time.monotonic()
        # Recovery: the very next requests find a fresh connection (CONN_HEALTH_CHECKS).
        with httpx.Client(base_url=base, timeout=10) as client:
            processes.wait_until(
                lambda: all(client.get(path).status_code == 200 for path in paths),
                timeout=5,
                message="pages answering 200 again",
            )
        recovered_in = time.monotonic() - dropped_at
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=15)

    statuses = Counter(r.status_code for r in responses)
    assert killed > 0
    assert len(responses) > 20
    assert set(statuses) <= {200, 503}, statuses
    for response in responses:
        assert "Traceback" not in response.text
        if response.status_code == 503:
            assert 'class="site-header"' in response.text  # our styled page, not a bare error
            assert response.headers.get("retry-after")
    assert recovered_in < 5
    # The operator's log keeps the tracebacks, and they are all the database going away.
    log = (tmp_path / "gunicorn.log").read_text(errors="replace")
    raised = set(re.findall(r"^([A-Za-z_.]+(?:Error|Exception|Shutdown))\b", log, re.MULTILINE))
    assert raised <= DATABASE_ERRORS, raised
    print(dict(statuses), f"killed {killed} sessions, recovered in {recovered_in:.2f}s")


@pytest.mark.faults
@needs_services
def test_a_summary_task_whose_connection_drops_retries_and_summarises_each_article_once(
    transactional_db, tmp_path, spawn
):
    from articles.summarizers.tasks import summarize_article

    queue = queue_name("summaries")
    articles = [factories.make_article() for _ in range(4)]
    with FakeAnthropic(latency=1.0) as fake:
        spawn(
            "worker",
            queues=queue,
            concurrency=4,
            ANTHROPIC_BASE_URL=fake.url,
            ANTHROPIC_API_KEY="test",
            SUMMARY_BACKEND="anthropic",
            SUMMARY_DAILY_BUDGET_USD="0",
        )
        for article in articles:
            summarize_article.apply_async(args=[article.pk], queue=queue)
        processes.wait_until(lambda: len(fake.requests) >= 4, timeout=30, message="calls in flight")
        # Drop every connection while the workers wait on the model and as the replies come
        # back, so some writes meet a dead connection and some a dropped reconnection.
        killed = keep_dropping(3.0)
        processes.wait_until(
            lambda: Article.objects.filter(status=Article.Status.IN_REVIEW).count() == len(articles),
            timeout=40,
            interval=0.5,
            message="every article in review",
        )

    assert killed > 0
    log = worker_log(tmp_path, "worker")
    assert "Traceback" not in log, log[-3000:]
    assert not Article.objects.exclude(status=Article.Status.IN_REVIEW).exists()
    for article in articles:
        assert Summary.objects.filter(article=article, kind=Summary.Kind.AI).count() == 1
        assert ModelCall.objects.filter(article=article, outcome="ok").exists()
    # A reply that arrived while the connection was dead is re-checked and stored; one whose
    # summary could not be written is paid for again on the retry. Either way every recorded
    # call is a call the model really answered, never one counted twice.
    assert len(articles) <= ModelCall.objects.count() <= len(fake.requests)
