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
# Small claim batches so a 12-subscriber chunk spans four of them.
CLAIM_BATCH = 3


def slack_subscriber(slack: FakeSlack, n: int) -> Subscriber:
    return factories.make_subscriber(
        email=f"desk{n}@example.com",
        send_hour=0,
        channel=Subscriber.Channel.SLACK,
        slack_webhook_url=slack.webhook_url(secret=f"secret{n}"),  # one webhook each: countable
    )


@pytest.mark.faults
@needs_services
def test_a_digest_run_killed_mid_chunk_strands_at_most_one_claim_batch_and_the_rest_get_exactly_one(
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
        env = {
            "FETCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1",
            "SLACK_WEBHOOK_HOSTS": "127.0.0.1",
            "NEWSLETTER_CLAIM_BATCH_SIZE": str(CLAIM_BATCH),
        }

        worker = spawn("worker-1", queues=queue, concurrency=2, **env)
        deliver_digest_chunk.apply_async(args=[crashed, day.isoformat()], queue=queue)
        processes.wait_until(lambda: len(slack.requests) >= 4, timeout=30, message="four digests posted")
        processes.stop(worker, sig=signal.SIGKILL)
        received_before_crash = len(slack.requests)
        assert 4 <= received_before_crash < CRASHED_CHUNK

        # Only the claim batch in flight stays claimed: for Slack we cannot tell which of its
        # posts arrived, so none of it is re-sent automatically (the operator sees it in the
        # admin). Earlier batches were marked sent; later ones were never claimed.
        stranded = set(
            Delivery.objects.filter(status=Delivery.Status.CLAIMED).values_list("subscriber_id", flat=True)
        )
        assert 1 <= len(stranded) <= CLAIM_BATCH
        assert stranded <= set(crashed)
        sent_before = set(
            Delivery.objects.filter(status=Delivery.Status.SENT).values_list("subscriber_id", flat=True)
        )
        assert len(sent_before) % CLAIM_BATCH == 0 and sent_before <= set(crashed)
        never_tried = [pk for pk in crashed if pk not in stranded | sent_before]
        assert len(never_tried) >= CRASHED_CHUNK - received_before_crash - CLAIM_BATCH
        # The next beat finds everyone the crashed worker never claimed, as well as the later chunk.
        due = services.due_subscribers(now=timezone.now())
        assert due == {day: never_tried + later}

        spawn("worker-2", queues=queue, concurrency=2, **env)
        # A redelivered copy of the crashed chunk, then the beat's new chunk: they overlap on
        # the never-tried subscribers and the claim decides who sends.
        deliver_digest_chunk.apply_async(args=[crashed, day.isoformat()], queue=queue)
        deliver_digest_chunk.apply_async(args=[never_tried + later, day.isoformat()], queue=queue)
        expected_sent = CRASHED_CHUNK + LATER_CHUNK - len(stranded)
        processes.wait_until(
            lambda: Delivery.objects.filter(status=Delivery.Status.SENT).count() == expected_sent,
            timeout=60,
            message="everyone but the stranded batch sent",
        )
        stranded_posted = received_before_crash - len(sent_before)
        processes.wait_until(
            lambda: (
                len(slack.requests) >= len(sent_before) + stranded_posted + len(never_tried) + LATER_CHUNK
            ),
            timeout=10,
        )
        processes.wait_until(
            lambda: (
                not Delivery.objects.exclude(subscriber_id__in=stranded)
                .exclude(status=Delivery.Status.SENT)
                .exists()
            ),
            timeout=10,
        )

    assert "Traceback" not in worker_log(tmp_path, "worker-2")
    per_webhook = Counter(r["path"] for r in slack.requests)
    assert max(per_webhook.values()) == 1, "somebody got two digests"
    received = {int(path.rsplit("secret", 1)[1]) for path in per_webhook}
    by_pk = dict(zip(crashed + later, range(CRASHED_CHUNK + LATER_CHUNK), strict=True))
    # Every subscriber outside the stranded batch got exactly one digest.
    assert {by_pk[pk] for pk in crashed + later if pk not in stranded} <= received
    assert len(received) == CRASHED_CHUNK + LATER_CHUNK - len(stranded) + stranded_posted
    # Nobody in the stranded batch was sent anything after the crash, and each still has one
    # visible claimed row for the operator to check and release.
    assert Delivery.objects.count() == CRASHED_CHUNK + LATER_CHUNK
    assert (
        set(Delivery.objects.filter(status=Delivery.Status.CLAIMED).values_list("subscriber_id", flat=True))
        == stranded
    )
