"""Two workers racing for the same subscribers on a real PostgreSQL server."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from newsletter import services
from newsletter.models import Delivery, SentStory
from tests.factories import make_subscriber, publish
from tests.races import needs_postgres

pytestmark = [pytest.mark.services, needs_postgres]


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_chunk_at_once_send_each_digest_once():
    publish(title="Council approves the light-rail line")
    ids = [make_subscriber().pk for _ in range(60)]
    now = timezone.now()
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def worker() -> None:
        try:
            barrier.wait()
            reports.append(services.digest_deliver_chunk(subscriber_ids=ids, day=now.date(), now=now))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sum(sum(r.sent.values()) for r in reports) == 60
    assert len(mail.outbox) == 60
    assert len({m.to[0] for m in mail.outbox}) == 60
    assert Delivery.objects.filter(status="sent").count() == 60
    # Each digest's one story is recorded once, by the worker that sent it.
    assert SentStory.objects.count() == 60
    assert SentStory.objects.values("subscriber").distinct().count() == 60
