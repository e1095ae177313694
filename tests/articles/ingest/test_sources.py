"""Pausing and resuming sources (articles/ingest/sources.py): each is a conditional UPDATE,
so a copy of the row read before someone else paused or resumed it changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from articles.ingest.sources import source_pause, source_resume
from articles.models import AuditEntry, Source
from tests import factories

pytestmark = pytest.mark.django_db


def test_pausing_pauses_with_the_reason_and_an_audit_entry(editor):
    source = factories.make_source()
    assert source_pause(source=source, reason="Licence expired.", actor=editor) is True
    source.refresh_from_db()
    assert source.paused_at is not None and source.pause_reason == "Licence expired."
    entry = AuditEntry.objects.get(action="source-paused")
    assert (entry.actor, entry.reason, entry.automatic) == (editor, "Licence expired.", False)


def test_pausing_from_a_stale_copy_keeps_the_first_pause_and_records_nothing(editor):
    source = factories.make_source()
    stale = Source.objects.get(pk=source.pk)
    source_pause(source=source, reason="First", actor=editor)
    assert source_pause(source=stale, reason="Second", actor=editor) is False
    source.refresh_from_db()
    assert source.pause_reason == "First"
    assert AuditEntry.objects.filter(action="source-paused").count() == 1


def test_resuming_restarts_the_failure_count_and_makes_the_source_due(editor):
    source = factories.make_source(
        paused_at=timezone.now(), consecutive_failures=10, next_poll_at=timezone.now() + timedelta(days=1)
    )
    assert source_resume(source=source, actor=editor) is True
    source.refresh_from_db()
    assert (source.paused_at, source.pause_reason, source.consecutive_failures) == (None, "", 0)
    assert source in Source.objects.due()


def test_resuming_twice_from_stale_copies_resumes_once(editor):
    source = factories.make_source(paused_at=timezone.now())
    stale = Source.objects.get(pk=source.pk)
    assert source_resume(source=source, actor=editor) is True
    assert source_resume(source=stale, actor=editor) is False
    assert AuditEntry.objects.filter(action="source-resumed").count() == 1


def test_resuming_a_source_nobody_paused_leaves_its_schedule_and_failures_alone(editor):
    later = timezone.now() + timedelta(hours=6)
    source = factories.make_source(consecutive_failures=3, next_poll_at=later)
    assert source_resume(source=source, actor=editor) is False
    source.refresh_from_db()
    assert (source.consecutive_failures, source.next_poll_at) == (3, later)
    assert not AuditEntry.objects.exists()
