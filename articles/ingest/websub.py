"""WebSub in: subscribing to the hubs our sources' feeds name, answering the hubs'
verification, and taking their signed pushes (docs/ingest.md, the W3C WebSub Recommendation).

A poll records the hub a feed names (WebSubSubscription.record_discovery, from source_poll);
the beat claims subscriptions whose request is due and sends each one (subscription_request);
the hub verifies through our callback (subscription_verify) and starts the lease; pushes are
authenticated (push_authenticate) and stored through the poll's own parse and dedupe path
(polling.source_push). Renewals go out a fifth of a lease before it ends. Polling goes on, at
least WEBSUB_SAFETY_POLL_SECONDS apart, while a lease runs.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from articles.models import Source, WebSubSubscription
from newsroom import websub as protocol

from . import polling

log = logging.getLogger(__name__)

# A hub answers a request with 202 and verifies later; one that has not verified within this
# long is asked again.
VERIFY_WAIT_SECONDS = 3600
# A hub that denied us is asked again after this long: the publisher may have changed its mind.
DENIED_RETRY_SECONDS = 24 * 3600


class Refused(Exception):
    """The callback refuses a request; `status` is what the hub gets."""

    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.status = status


def callback_url(subscription: WebSubSubscription) -> str:
    return settings.SITE_URL + reverse("websub_callback", args=[subscription.token])


def renewal_delay(lease_seconds: int) -> int:
    """Seconds after verification when the lease is renewed: a fifth of the lease early."""
    return max(60, lease_seconds - lease_seconds // 5)


def retry_delay(failures: int) -> int:
    """Back-off after a failed request: from SOURCE_MIN_POLL_SECONDS, doubling, at most a day."""
    return int(min(settings.SOURCE_MIN_POLL_SECONDS * 2 ** max(0, min(failures - 1, 20)), 24 * 3600))


def subscriptions_claim_due(*, now: datetime | None = None, lease_seconds: int = 600) -> list[int]:
    """Claim every subscription whose request is due (and whose source is active) by pushing
    its next_request_at ahead with a conditional UPDATE, so overlapping beats send one request."""
    now = now or timezone.now()
    claimed = []
    for pk in WebSubSubscription.objects.due(now).values_list("pk", flat=True):
        lease = now + timedelta(seconds=lease_seconds)
        if WebSubSubscription.objects.filter(pk=pk, next_request_at__lte=now).update(next_request_at=lease):
            claimed.append(pk)
    return claimed


def subscription_request(*, subscription: WebSubSubscription, now: datetime | None = None) -> str:
    """Ask the hub for a subscription (the first one, or a renewal): hub.mode=subscribe with the
    topic, our callback (carrying the subscription's token), its secret and the lease we want.

    requested_mode is written (committed) before the POST, since a hub may verify before it
    answers. A 2xx leaves the verification to the hub; if none comes within VERIFY_WAIT_SECONDS
    the beat asks again. A refusal or an unreachable hub counts a failure and backs off
    (retry_delay). A live lease keeps running meanwhile. Returns "requested" or "failed".
    """
    now = now or timezone.now()
    WebSubSubscription.objects.filter(pk=subscription.pk).update(requested_mode="subscribe", requested_at=now)
    fields = {
        "hub.mode": "subscribe",
        "hub.topic": subscription.topic_url,
        "hub.callback": callback_url(subscription),
        "hub.secret": subscription.secret,
        "hub.lease_seconds": str(settings.WEBSUB_LEASE_SECONDS),
    }
    try:
        protocol.hub_post(subscription.hub_url, fields)
    except protocol.HubError as exc:
        failures = subscription.failures + 1
        WebSubSubscription.objects.filter(pk=subscription.pk).update(
            failures=failures,
            last_error=f"subscribe: {exc}"[:2000],
            next_request_at=now + timedelta(seconds=retry_delay(failures)),
        )
        log.warning("WebSub subscription %s refused by %s: %s", subscription.pk, subscription.hub_url, exc)
        return "failed"
    WebSubSubscription.objects.filter(pk=subscription.pk).update(
        next_request_at=now + timedelta(seconds=VERIFY_WAIT_SECONDS)
    )
    return "requested"


def subscription_verify(
    *, token: str, mode: str, topic: str, challenge: str, lease_seconds: str = "", reason: str = ""
) -> str:
    """Answer a hub's verification GET (WebSub §5.3): the text to answer with, or Refused (404).

    hub.mode=subscribe is confirmed only for a subscription we asked for (requested_mode) on its
    own topic: the challenge is echoed and the lease starts, with its renewal due a fifth of the
    lease early. hub.mode=denied for our topic ends any lease and asks again after a day. Any
    other mode, topic or token is refused, and nothing is written.
    """
    now = timezone.now()
    mine = WebSubSubscription.objects.filter(token=token, topic_url=topic)
    if mode == "subscribe" and challenge:
        lease = int(lease_seconds) if lease_seconds.isdigit() else settings.WEBSUB_LEASE_SECONDS
        confirmed = mine.filter(requested_mode="subscribe").update(
            requested_mode="",
            verified_at=now,
            lease_seconds=lease,
            expires_at=now + timedelta(seconds=lease),
            next_request_at=now + timedelta(seconds=renewal_delay(lease)),
            failures=0,
            last_error="",
        )
        if confirmed:
            return challenge
    elif mode == "denied":
        denied = mine.update(
            requested_mode="",
            expires_at=None,
            next_request_at=now + timedelta(seconds=DENIED_RETRY_SECONDS),
            last_error=f"denied by the hub: {reason}"[:2000],
        )
        if denied:
            log.warning("WebSub hub denied subscription to %s: %s", topic, reason)
            return ""
    raise Refused(f"No pending {mode or 'request'} for this topic.", status=404)


def subscription_for_push(*, token: str) -> WebSubSubscription:
    """The verified subscription a callback token names, or Refused (404): an unknown token, or
    one whose subscription no hub has verified (or whose hub denied it)."""
    subscription = (
        WebSubSubscription.objects.select_related("source")
        .filter(token=token, expires_at__isnull=False)
        .first()
    )
    if subscription is None:
        raise Refused("Unknown subscription.", status=404)
    return subscription


def push_authenticate(
    *, subscription: WebSubSubscription, body: bytes, signature: str, link_headers: list[str]
) -> None:
    """Refuse a push that is not for this subscription's topic (a rel="self" Link naming another,
    404) or not signed with its secret (X-Hub-Signature missing or wrong, 403; constant-time)."""
    self_url = protocol.link_header_rels(link_headers, base=subscription.topic_url).get("self")
    if self_url and self_url != subscription.topic_url:
        raise Refused("The push is for another topic.", status=404)
    if not protocol.signature_valid(secret=subscription.secret, body=body, header=signature):
        log.warning("WebSub push for subscription %s refused: bad or missing signature", subscription.pk)
        raise Refused("Missing or invalid X-Hub-Signature.", status=403)


def push_receive(*, subscription: WebSubSubscription, body: bytes) -> polling.PollResult | None:
    """Store an authenticated push through the poll's path (polling.source_push) and note when it
    came. A source the desk paused or switched off stores nothing (None). Raises FeedError for a
    body that is not a feed."""
    active = Source.objects.active().filter(pk=subscription.source_id)
    if not active.exists():
        return None
    result = polling.source_push(source=subscription.source, content=body, base_url=subscription.topic_url)
    WebSubSubscription.objects.filter(pk=subscription.pk).update(last_push_at=timezone.now())
    return result
