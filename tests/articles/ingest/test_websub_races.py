"""WebSub subscriptions on PostgreSQL under concurrency: overlapping beats send one request, and
two deliveries of one verification confirm it once (articles/ingest/websub.py)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from articles.ingest import websub
from articles.models import WebSubSubscription
from tests import factories
from tests.races import needs_postgres, race

pytestmark = [pytest.mark.services, needs_postgres, pytest.mark.django_db(transaction=True)]


def due_subscription(**fields) -> WebSubSubscription:
    return WebSubSubscription.objects.create(
        source=factories.make_source(),
        hub_url="https://hub.example.net/",
        topic_url="https://source.example.com/feed",
        token=f"token-{timezone.now().timestamp()}",
        secret="s" * 43,
        next_request_at=timezone.now(),
        **fields,
    )


def test_overlapping_beats_claim_a_due_subscription_once():
    subscription = due_subscription()
    results = race(
        websub.subscriptions_claim_due, websub.subscriptions_claim_due, websub.subscriptions_claim_due
    )
    assert sorted(len(claimed) for claimed in results) == [0, 0, 1], results
    assert [pk for claimed in results for pk in claimed] == [subscription.pk]


def test_a_verification_delivered_twice_at_once_is_confirmed_once():
    subscription = due_subscription(requested_mode="subscribe")

    def verify() -> str | Exception:
        try:
            return websub.subscription_verify(
                token=subscription.token,
                mode="subscribe",
                topic=subscription.topic_url,
                challenge="c",
                lease_seconds="600",
            )
        except websub.Refused as exc:
            return exc

    results = race(verify, verify)
    assert sorted(type(r).__name__ for r in results) == ["Refused", "str"], results
    assert WebSubSubscription.objects.get(pk=subscription.pk).is_live()
