"""A source's row on PostgreSQL while a poll is fetching it: the poll writes back only its
fetch state, so an editor's pause or switch-off made during the fetch survives, and an
automatic pause never replaces an editor's. Every racing side reads the row on its own
connection before any side writes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from articles.ingest import polling
from articles.ingest.sources import source_pause, source_resume
from articles.models import AuditEntry, FetchAttempt, Source
from tests import factories
from tests.fakes.feed_server import Route, rss
from tests.races import needs_postgres, race

pytestmark = [pytest.mark.services, needs_postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def editor():
    # Not the shared fixture: a transactional test's flush has removed the migrated groups.
    return factories.make_user(email="desk@example.com", staff=True)


def race_on_source(source_id: int, *writes: Callable[[Source], Any]) -> list[Any]:
    """Each write gets its own copy of the row, read on its own connection; no write starts
    before every copy is read."""
    all_read = threading.Barrier(len(writes))

    def step(write: Callable[[Source], Any]) -> Callable[[], Any]:
        def run() -> Any:
            row = Source.objects.get(pk=source_id)
            all_read.wait(10)
            return write(row)

        return run

    return race(*(step(write) for write in writes))


def during_the_fetch(server, path: str, edit: Callable[[Source], Any]) -> Callable[[Source], Any]:
    """`edit`, once the poll is inside its fetch (the fake server has the request)."""

    def run(row: Source) -> Any:
        deadline = time.monotonic() + 10
        while not server.hits_for(path):
            assert time.monotonic() < deadline, "the poll never fetched"
            time.sleep(0.01)
        return edit(row)

    return run


def test_an_editors_pause_and_switch_off_made_during_a_slow_poll_survive_it(feed_server, editor):
    feed_server.routes["/feed"] = Route(body=rss([("Story", "https://news.example.org/a")]), delay=1.0)
    source = factories.make_source(feed_url=feed_server.url("/feed"), auto_publish=True)

    def pause_and_switch_off(row: Source) -> bool:
        paused = source_pause(source=row, reason="Checking their licence.", actor=editor)
        row.auto_publish = row.is_active = False
        row.save(update_fields=["auto_publish", "is_active"])  # what the change form writes
        return paused

    result, paused = race_on_source(
        source.pk,
        lambda row: polling.source_poll(source=row),
        during_the_fetch(feed_server, "/feed", pause_and_switch_off),
    )

    assert paused is True and result.outcome == "ok" and result.new == 1, (result, paused)
    source.refresh_from_db()
    assert source.paused_at is not None and source.pause_reason == "Checking their licence."
    assert (source.auto_publish, source.is_active) == (False, False)
    # The poll's own state is recorded all the same.
    assert source.last_status == "ok" and source.last_success_at is not None
    assert FetchAttempt.objects.filter(source=source).count() == 1


def test_a_failing_poll_at_the_limit_leaves_an_editors_pause_made_during_it_in_place(
    feed_server, settings, editor
):
    settings.SOURCE_PAUSE_AFTER_FAILURES = 3
    feed_server.routes["/feed"] = Route(status=500, body=b"down", delay=1.0)
    source = factories.make_source(feed_url=feed_server.url("/feed"), consecutive_failures=2)

    result, paused = race_on_source(
        source.pk,
        lambda row: polling.source_poll(source=row),
        during_the_fetch(
            feed_server,
            "/feed",
            lambda row: source_pause(source=row, reason="Moving to their new feed.", actor=editor),
        ),
    )

    assert paused is True and result.outcome == "failed", (result, paused)
    source.refresh_from_db()
    assert source.pause_reason == "Moving to their new feed."
    assert source.consecutive_failures == 3
    pauses = AuditEntry.objects.filter(action="source-paused", target_id=str(source.pk))
    assert list(pauses.values_list("automatic", "actor")) == [(False, editor.pk)]


def test_two_editors_pausing_one_source_at_once_pause_it_once(editor):
    source = factories.make_source()
    results = race_on_source(
        source.pk,
        lambda row: source_pause(source=row, reason="First", actor=editor),
        lambda row: source_pause(source=row, reason="Second", actor=editor),
    )
    assert sorted(results) == [False, True], results
    source.refresh_from_db()
    assert source.pause_reason == ("First" if results[0] else "Second")
    assert AuditEntry.objects.filter(action="source-paused", target_id=str(source.pk)).count() == 1


def test_two_editors_resuming_one_source_at_once_resume_it_once(editor):
    source = factories.make_source(paused_at=timezone.now(), consecutive_failures=9)
    results = race_on_source(
        source.pk,
        lambda row: source_resume(source=row, actor=editor),
        lambda row: source_resume(source=row, actor=editor),
    )
    assert sorted(results) == [False, True], results
    source.refresh_from_db()
    assert source.paused_at is None and source.consecutive_failures == 0
    assert AuditEntry.objects.filter(action="source-resumed", target_id=str(source.pk)).count() == 1
