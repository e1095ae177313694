from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from newsletter import services, tasks
from newsletter.models import Delivery
from tests.factories import make_subscriber
from tests.fakes.line_server import FakeLine
from tests.newsletter.test_services import LINE_USER, crash_after_sending, run_beat

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


# --- The beat recovers what a crashed worker left claimed -----------------------------------


def test_an_email_claimed_by_a_worker_that_crashed_after_sending_is_never_sent_again(
    monkeypatch, todays_story, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber(send_hour=0)
    day = timezone.now().date()
    crash_after_sending(monkeypatch)
    with pytest.raises(SystemExit):
        services.digest_deliver_chunk(subscriber_ids=[subscriber.pk], day=day)
    monkeypatch.undo()
    assert len(mail.outbox) == 1
    Delivery.objects.update(claimed_at=timezone.now() - dt.timedelta(hours=2))

    run_beat(timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        tasks.schedule_digests()
    services.digest_send_now(day=day)

    assert len(mail.outbox) == 1
    assert Delivery.objects.get().status == Delivery.Status.CLAIMED


def test_a_line_push_interrupted_by_a_crash_is_resent_with_the_same_retry_key_and_arrives_once(
    monkeypatch, settings, todays_story, django_capture_on_commit_callbacks
):
    with FakeLine() as line:
        settings.LINE_API_BASE_URL = line.base_url
        subscriber = make_subscriber(channel="line", line_user_id=LINE_USER)
        crash_after_sending(monkeypatch)
        with pytest.raises(SystemExit):
            services.digest_deliver_chunk(subscriber_ids=[subscriber.pk], day=timezone.now().date())
        monkeypatch.undo()
        delivery = Delivery.objects.get()
        assert delivery.status == Delivery.Status.CLAIMED

        # Not yet stale: left alone.
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.schedule_digests()["recovered"] == 0
        Delivery.objects.update(claimed_at=timezone.now() - dt.timedelta(minutes=20))
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.schedule_digests()["recovered"] == 1

        assert len(line.requests) == 2
        keys = {r["headers"]["X-Line-Retry-Key"] for r in line.requests}
        assert keys == {str(delivery.retry_key)}
        assert len(line.accepted) == 1
        assert Delivery.objects.get().status == Delivery.Status.SENT


def test_an_operator_can_release_a_stuck_delivery_for_the_next_run(
    todays_story, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber()
    delivery = Delivery.objects.create(
        subscriber=subscriber,
        digest_date=timezone.now().date(),
        channel="email",
        claim_token="00000000-0000-0000-0000-000000000000",
    )
    assert services.delivery_release(delivery=delivery)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.schedule_digests()
    delivery.refresh_from_db()
    assert delivery.status == "sent"
    assert len(mail.outbox) == 1
