from __future__ import annotations

import pytest
from django.core import mail

from newsletter import tasks
from newsletter.models import Delivery
from tests.factories import make_subscriber

pytestmark = pytest.mark.django_db


def test_the_beat_task_fans_out_chunks_that_send_after_commit(
    settings, todays_story, django_capture_on_commit_callbacks
):
    settings.NEWSLETTER_CHUNK_SIZE = 2
    for _ in range(5):
        make_subscriber(send_hour=0)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = tasks.schedule_digests.delay().get()
    assert result["chunks"] == 3
    assert mail.outbox == []  # nothing leaves before the transaction commits
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 5
    assert Delivery.objects.filter(status="sent").count() == 5


def test_a_chunk_task_run_twice_sends_once(todays_story):
    subscriber = make_subscriber()
    day = "2026-11-24"
    first = tasks.deliver_digest_chunk.delay([subscriber.pk], day).get()
    second = tasks.deliver_digest_chunk.delay([subscriber.pk], day).get()
    assert first["sent"] == {"email": 1}
    assert second["sent"] == {}
    assert len(mail.outbox) == 1


def test_the_beat_schedule_runs_the_digest_every_fifteen_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["newsletter-schedule-digests"]
    assert entry["task"] == tasks.schedule_digests.name
    assert entry["schedule"] == 15 * 60
