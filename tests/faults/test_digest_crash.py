"""Fault 6: the worker sending a digest chunk is SIGKILLed after some deliveries left."""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from django.utils import timezone

from newsletter import services
from newsletter.models import Delivery, Subscriber
from tests import factories, processes
from tests.fakes.slack_server import FakeSlack

from .conftest import needs_services, queue_name, worker_log

CRASHED_CHUNK = 12
LATER_CHUNK = 8


def slack_subscriber(slack: FakeSlack, n: int) -> Subscriber:
    return Subscriber.objects.create(
        email=f"desk{n}@example.com",
        status=Subscriber.Status.CONFIRMED,
        confirmed_at=timezone.now(),
        send_hour=0,
        timezone="UTC",
        channel=Subscriber.Channel.SLACK,
        slack_webhook_url=slack.webhook_url(secret=f"secret{n}"),  # one webhook each: countable
    )


@pytest.mark.faults
@needs_services
def test_a_digest_run_killed_mid_chunk_sends_nobody_two_and_the_rest_exactly_one(
    transactional_db, tmp_path, spawn
):
    from newsletter.tasks import deliver_digest_chunk

    queue = queue_name("digest")
    factories.make_published_article(title="Council approves the light-rail line")
    day = timezone.now().date()

    with FakeSlack() as slack:
        slack.slow_seconds = 0.5  # each post reaches Slack, then the answer takes a while
        crashed = [slack_subscriber(slack, n).pk for n in range(CRASHED_CHUNK)]
        later = [slack_subscriber(slack, n).pk for n in range(CRASHED_CHUNK, CRASHED_CHUNK + LATER_CHUNK)]
        env = {"FETCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "SLACK_WEBHOOK_HOSTS": "127.0.0.1"}

        worker = spawn("worker-1", queues=queue, concurrency=2, **env)
        deliver_digest_chunk.apply_async(args=[crashed, day.isoformat()], queue=queue)
        processes.wait_until(lambda: len(slack.requests) >= 4, timeout=30, message="four digests posted")
        processes.stop(worker, sig=signal.SIGKILL)
        received_before_crash = len(slack.requests)
        assert 4 <= received_before_crash < CRASHED_CHUNK

        # The crashed chunk's rows all stay claimed: for Slack we cannot tell which posts
        # arrived, so none is re-sent automatically; the operator sees them in the admin.
        assert Delivery.objects.filter(subscriber_id__in=crashed, status=Delivery.Status.CLAIMED).count() == (
            CRASHED_CHUNK
        )
        # The next beat finds only the subscribers nobody claimed yet.
        due = services.due_subscribers(now=timezone.now())
        assert due == {day: later}

        spawn("worker-2", queues=queue, concurrency=2, **env)
        # A redelivered copy of the crashed chunk, then the beat's new chunk.
        deliver_digest_chunk.apply_async(args=[crashed, day.isoformat()], queue=queue)
        deliver_digest_chunk.apply_async(args=[later, day.isoformat()], queue=queue)
        processes.wait_until(
            lambda: Delivery.objects.filter(status=Delivery.Status.SENT).count() == LATER_CHUNK,
            timeout=30,
            message="the later chunk sent",
        )
        processes.wait_until(lambda: len(slack.requests) >= received_before_crash + LATER_CHUNK, timeout=10)

    assert "Traceback" not in worker_log(tmp_path, "worker-2")
    per_webhook = Counter(r["path"] for r in slack.requests)
    assert max(per_webhook.values()) == 1, "somebody got two digests"
    received = {path.rsplit("secret", 1)[1] for path in per_webhook}
    assert {str(n) for n in range(CRASHED_CHUNK, CRASHED_CHUNK + LATER_CHUNK)} <= received
    assert len(received) == received_before_crash + LATER_CHUNK
    assert (
        Delivery.objects.filter(subscriber_id__in=later, status=Delivery.Status.SENT).count() == LATER_CHUNK
    )
    # Nobody in the crashed chunk was sent anything after the crash, and each still has one
    # visible claimed row for the operator to check and release.
    assert Delivery.objects.filter(subscriber_id__in=crashed).count() == CRASHED_CHUNK
    assert Delivery.objects.filter(status=Delivery.Status.CLAIMED).count() == CRASHED_CHUNK
