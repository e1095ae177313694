"""Digest subscribers and the one delivery per subscriber per day that the scheduler claims."""

from __future__ import annotations

import re
import uuid
import zoneinfo
from collections.abc import Iterable
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from newsroom.guarded import compare_and_set

# Slack's incoming-webhook path: /services/<team id>/<bot id>/<secret>.
SLACK_WEBHOOK_PATH = re.compile(r"^/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+$")
# A LINE user id as the Messaging API gives it: "U" and 32 lowercase hex digits.
LINE_USER_ID = re.compile(r"^U[0-9a-f]{32}$")


@cache
def timezone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value not in timezone_names():
        raise ValidationError(
            _("%(value)s is not a known timezone."), code="timezone", params={"value": value}
        )


def validate_slack_webhook_url(value: str) -> None:
    """Only a Slack incoming-webhook URL: anything else would let a subscriber make us POST anywhere."""
    parts = urlsplit(value)
    if (
        parts.scheme != "https"
        or parts.hostname not in settings.SLACK_WEBHOOK_HOSTS
        or parts.port is not None
        or parts.query
        or parts.fragment
        or parts.username
        or not SLACK_WEBHOOK_PATH.match(parts.path)
    ):
        raise ValidationError(
            _("Enter a Slack incoming-webhook URL (https://hooks.slack.com/services/…)."), code="slack"
        )


def validate_line_user_id(value: str) -> None:
    if not LINE_USER_ID.match(value):
        raise ValidationError(_("A LINE user id is a U followed by 32 hex digits."), code="line")


class StaleSubscriber(Exception):
    """The subscriber's status changed in the database since it was read (an unsubscribe, a
    confirmation or a pause got there first). Nothing was written; re-read before deciding."""


class SubscriberQuerySet(models.QuerySet["Subscriber"]):
    def confirmed(self) -> SubscriberQuerySet:
        return self.filter(status=Subscriber.Status.CONFIRMED)

    def of_user(self, user: Any) -> SubscriberQuerySet:
        """The digest subscriptions that belong to an account: linked to it, or at one of its
        verified addresses (subscribing works logged out, and the address is the identity).
        Unverified addresses do not count: anyone can add one to their account."""
        verified = (
            EmailAddress.objects.filter(user=user, verified=True)
            .annotate(address=Lower("email"))
            .values("address")
        )
        return self.filter(models.Q(user=user) | models.Q(email__in=verified))


class Subscriber(models.Model):
    """Someone who asked for the daily digest. The email address is their identity even when
    the digest goes to Slack or LINE: confirmation and preference links are mailed there."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SLACK = "slack", _("Slack")
        LINE = "line", _("LINE")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        PAUSED = "paused", _("Paused")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")

    email = models.EmailField(unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="digest_subscriptions",
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    slack_webhook_url = models.URLField(max_length=300, blank=True, validators=[validate_slack_webhook_url])
    line_user_id = models.CharField(max_length=33, blank=True, validators=[validate_line_user_id])
    topics = models.ManyToManyField("articles.Topic", blank=True, related_name="subscribers")
    send_hour = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(0), MaxValueValidator(23)]
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    status_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)

    # Which status may follow which. pending → pending is a re-sent confirmation; unsubscribed
    # → pending is a fresh double opt-in. Nothing but that opt-in leaves unsubscribed.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.PENDING: frozenset({Status.PENDING, Status.CONFIRMED, Status.UNSUBSCRIBED}),
        Status.CONFIRMED: frozenset({Status.PAUSED, Status.UNSUBSCRIBED}),
        Status.PAUSED: frozenset({Status.CONFIRMED, Status.UNSUBSCRIBED}),
        Status.UNSUBSCRIBED: frozenset({Status.PENDING}),
    }

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["email"]
        indexes = [models.Index(fields=["status", "timezone", "send_hour"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(send_hour__gte=0, send_hour__lte=23), name="subscriber_send_hour_range"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = (self.email or "").strip().lower()
        if self.channel == self.Channel.SLACK and not self.slack_webhook_url:
            raise ValidationError({"slack_webhook_url": _("Slack delivery needs a webhook URL.")})
        if self.channel == self.Channel.LINE and not self.line_user_id:
            raise ValidationError({"line_user_id": _("LINE delivery needs a LINE user id.")})

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def transition_to(
        self, status: str, *, reason: str = "", expected: Iterable[str] = (), **changes: Any
    ) -> None:
        """The one door for a status change, as one compare-and-set in the database:

        UPDATE … SET status, status_reason, <changes> WHERE pk = … AND status IN (<expected>)

        `expected` defaults to the status read into this object; a caller whose move is right
        from several statuses (unsubscribing) names them all. Raises ValueError for a move
        TRANSITIONS forbids and StaleSubscriber when the row no longer holds an expected
        status; either way nothing is written and this object is unchanged. On success this
        object holds what was written.
        """
        expected = frozenset(expected) or frozenset({self.status})
        for current in expected:
            if status not in self.TRANSITIONS.get(current, frozenset()):
                raise ValueError(f"A subscriber cannot go from {current!r} to {status!r}.")
        values = {"status": status, "status_reason": reason[:300], **changes}
        if not compare_and_set(self, Subscriber.objects.filter(status__in=expected), values):
            raise StaleSubscriber(
                f"Subscriber {self.pk} is no longer {'/'.join(sorted(expected))}; nothing was written."
            )


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def transition(self, status: str, *, expected: Iterable[str], **changes: Any) -> int:
        """The one door for a delivery's status, for one row or a batch: a compare-and-set

        UPDATE … SET status, <changes> WHERE <this queryset> AND status IN (<expected>)

        returning how many rows moved; rows another worker or an operator moved first are
        left alone. Raises ValueError for a move Delivery.TRANSITIONS forbids."""
        expected = frozenset(expected)
        for current in expected:
            if status not in Delivery.TRANSITIONS.get(current, frozenset()):
                raise ValueError(f"A delivery cannot go from {current!r} to {status!r}.")
        return self.filter(status__in=expected).update(status=status, **changes)


class Delivery(models.Model):
    """One subscriber's digest for one of their local days. The unique row is the claim:
    whoever inserts it sends; nobody else ever does (see newsletter/services.py)."""

    class Status(models.TextChoices):
        CLAIMED = "claimed", _("Claimed (sending)")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped (nothing to send)")
        FAILED = "failed", _("Failed")

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="deliveries")
    digest_date = models.DateField()
    channel = models.CharField(max_length=8, choices=Subscriber.Channel.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.CLAIMED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # Which scheduler run inserted the row: lets a bulk INSERT ... ON CONFLICT DO NOTHING
    # find out afterwards which rows it won, on SQLite and PostgreSQL alike.
    claim_token = models.UUIDField(db_index=True)
    # Sent as X-Line-Retry-Key: LINE accepts a push with a given key at most once.
    retry_key = models.UUIDField(default=uuid.uuid4)
    claimed_at = models.DateTimeField(default=now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Set on a temporary failure; the beat task retries the delivery once this has passed.
    next_retry_at = models.DateTimeField(null=True, blank=True, db_index=True)

    # claimed → sent/skipped/failed when the send is done; failed → claimed when a retry
    # claims it; claimed/failed → failed when recovered or released for another try.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.CLAIMED: frozenset({Status.SENT, Status.SKIPPED, Status.FAILED}),
        Status.FAILED: frozenset({Status.CLAIMED, Status.FAILED}),
    }

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-digest_date", "subscriber"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "digest_date"], name="delivery_once_per_day"),
        ]
        indexes = [models.Index(fields=["digest_date", "status"])]

    def __str__(self) -> str:
        return f"{self.subscriber} {self.digest_date}: {self.status}"


class SentStory(models.Model):
    """A story one delivery carried, with how far the story had got then (its StoryMark).

    The digest sends a story to a subscriber again only once it was updated past what they were
    sent (newsletter/services.py: `Catalogue.entries_for`). Rows are written in the transaction
    that marks their delivery sent, and pruned after NEWSLETTER_SENT_STORY_DAYS.
    """

    # Foreign keys without indexes of their own: the constraint and index below cover them.
    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, db_index=False, related_name="sent_stories"
    )
    # The delivery's subscriber and date, repeated here so that "what was this subscriber sent"
    # and the pruning of old rows each read one index of this table.
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, db_index=False, related_name="+")
    digest_date = models.DateField(db_index=True)
    # No database constraint and no cascade: a story an editor merges away may be deleted while
    # a digest that carried it is being marked, which must not fail the mark; and deleting a
    # story must not delete a row per reader inside the editor's request. Orphans age out.
    story = models.ForeignKey(
        "articles.Story", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    # The story's StoryMark when it was sent: the time of its latest development (first
    # publication, update with an update line, or accepted follow-up), and how many of its
    # articles were published.
    changed_at = models.DateTimeField()
    published_articles = models.PositiveIntegerField()

    class Meta:
        verbose_name_plural = "sent stories"
        constraints = [
            models.UniqueConstraint(fields=["delivery", "story"], name="sent_story_once_per_delivery"),
        ]
        indexes = [models.Index(fields=["subscriber", "story"])]

    def __str__(self) -> str:
        return f"story {self.story_id} to {self.subscriber_id} on {self.digest_date}"
