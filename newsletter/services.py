"""Newsletter workflows: subscribe, confirm, preferences, build and deliver the daily digest.

Exactly-once delivery
---------------------
A `Delivery` row (subscriber, digest date) is unique. A chunk task claims its subscribers a
claim batch (NEWSLETTER_CLAIM_BATCH_SIZE, 50) at a time with one INSERT ... ON CONFLICT DO
NOTHING, sends only the rows it inserted itself, marks them, then claims the next batch. So two
overlapping beat runs, a redelivered task or a manual `send_digest` can never send the same
subscriber the same day's digest twice, and a worker killed mid-chunk leaves at most one claim
batch "claimed": subscribers of later batches have no row yet, so the next beat run (or the
redelivered task) sends them exactly once.

If the worker dies between hand-off and mark, the rows of that claim batch stay "claimed":
- LINE has an idempotency key (X-Line-Retry-Key, stored on the row): a claim older than
  NEWSLETTER_STALE_CLAIM_SECONDS is re-sent with the same key and LINE drops the repeat (409).
- Email and Slack have none: we cannot tell whether the message left, so the row stays
  claimed and is never re-sent automatically. An operator may release it in the admin. A
  missed digest is a smaller harm than a duplicate in every inbox after each crash.
A Python exception (including Celery's soft time limit) is not a crash: sent rows are marked
and rows not yet attempted are released for the next beat run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import time
import uuid
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import batched
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Case, Exists, F, Max, Min, OuterRef, Prefetch, Q, Value, When
from django.db.models.functions import Coalesce, Concat, Greatest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from articles.models import Article, OpenQuestion, Story, StoryUpdate, Summary, Topic

from .channels import (
    CHANNELS,
    ChannelError,
    ChannelPool,
    DigestItem,
    DigestMessage,
    EmailChannel,
    FailureKind,
    Recipient,
)
from .models import Delivery, SentStory, StaleSubscriber, Subscriber

logger = logging.getLogger(__name__)

CONFIRM_SALT = "newsletter.confirm"
MANAGE_SALT = "newsletter.manage"


class InvalidToken(Exception):
    """A confirmation or preferences link that was tampered with, expired or is stale."""


# --- Tokens -----------------------------------------------------------------------------


def _email_tag(email: str) -> str:
    # Binds a token to the address without putting the address in the URL.
    return hashlib.sha256(email.encode()).hexdigest()[:12]


def subscriber_token(*, subscriber: Subscriber, purpose: str) -> str:
    salt = CONFIRM_SALT if purpose == "confirm" else MANAGE_SALT
    return signing.TimestampSigner(salt=salt).sign_object(
        {"s": subscriber.pk, "e": _email_tag(subscriber.email)}
    )


def subscriber_from_token(*, token: str, purpose: str) -> Subscriber:
    """The subscriber a signed link names, or InvalidToken. Confirmation links expire quickly;
    preference/unsubscribe links live long because old digests keep them."""
    if purpose == "confirm":
        salt, max_age = CONFIRM_SALT, settings.NEWSLETTER_CONFIRM_MAX_AGE_SECONDS
    else:
        salt, max_age = MANAGE_SALT, settings.NEWSLETTER_LINK_MAX_AGE_DAYS * 86400
    try:
        data = signing.TimestampSigner(salt=salt).unsign_object(token, max_age=max_age)
        subscriber = Subscriber.objects.get(pk=data["s"])
    except (signing.BadSignature, Subscriber.DoesNotExist, KeyError, TypeError) as exc:
        raise InvalidToken("This link is invalid or has expired.") from exc
    if data.get("e") != _email_tag(subscriber.email):
        raise InvalidToken("This link is invalid or has expired.")
    return subscriber


def _absolute(path: str) -> str:
    return settings.SITE_URL + path


def manage_urls(*, subscriber: Subscriber) -> tuple[str, str]:
    token = subscriber_token(subscriber=subscriber, purpose="manage")
    return (
        _absolute(reverse("newsletter_preferences", args=[token])),
        _absolute(reverse("newsletter_unsubscribe", args=[token])),
    )


# --- Subscriptions ----------------------------------------------------------------------


def subscriber_subscribe(*, email: str, topics: Iterable[Topic] = (), user=None) -> None:
    """Start double opt-in for `email`. Returns nothing on purpose: the caller shows the same
    answer whether the address is new, pending, confirmed or paused.

    - new or unsubscribed: becomes pending with these topics; a confirmation email goes out.
    - pending: topics replaced; the confirmation is re-sent at most once per cooldown.
    - confirmed or paused: nothing changes and nothing is sent.
    """
    email = email.strip().lower()
    now = timezone.now()
    with transaction.atomic():
        subscriber, created = Subscriber.objects.select_for_update().get_or_create(email=email)
        if not created and subscriber.status in (Subscriber.Status.CONFIRMED, Subscriber.Status.PAUSED):
            return
        cooldown = dt.timedelta(seconds=settings.NEWSLETTER_CONFIRM_COOLDOWN_SECONDS)
        if (
            subscriber.status == Subscriber.Status.PENDING
            and subscriber.confirmation_sent_at
            and now - subscriber.confirmation_sent_at < cooldown
        ):
            return
        changes: dict[str, Any] = {"confirmation_sent_at": now}
        if user is not None and getattr(user, "email", "").lower() == email:
            changes["user"] = user
        try:
            subscriber.transition_to(Subscriber.Status.PENDING, **changes)
        except StaleSubscriber:
            return  # confirmed or unsubscribed since the read above (SQLite has no row lock)
        subscriber.topics.set(list(topics))
        transaction.on_commit(lambda: _send_confirmation(subscriber))


def _send_confirmation(subscriber: Subscriber) -> None:
    token = subscriber_token(subscriber=subscriber, purpose="confirm")
    context = {
        "confirm_url": _absolute(reverse("newsletter_confirm", args=[token])),
        "hours": settings.NEWSLETTER_CONFIRM_MAX_AGE_SECONDS // 3600,
        "SITE_NAME": settings.SITE_NAME,
    }
    send_mail(
        subject=f"Confirm your {settings.SITE_NAME} daily digest",
        message=render_to_string("emails/newsletter_confirm.txt", context),
        from_email=None,
        recipient_list=[subscriber.email],
        html_message=render_to_string("emails/newsletter_confirm.html", context),
    )


def subscriber_confirm(*, token: str) -> Subscriber:
    """Confirm a pending subscription (pending → confirmed, compare-and-set). Confirming twice
    is harmless; a link for an address that has unsubscribed, even while the link was being
    clicked, does not bring it back (InvalidToken)."""
    subscriber = subscriber_from_token(token=token, purpose="confirm")
    if subscriber.status == Subscriber.Status.PENDING:
        try:
            subscriber.transition_to(Subscriber.Status.CONFIRMED, confirmed_at=timezone.now())
        except StaleSubscriber:
            subscriber.refresh_from_db()  # an unsubscribe or another click got there first
    if subscriber.status == Subscriber.Status.UNSUBSCRIBED:
        raise InvalidToken("This link is invalid or has expired.")
    return subscriber


# Every status a subscriber can unsubscribe from: the reader's "stop" wins over whatever
# happened since the page or email was loaded.
_SUBSCRIBED = (Subscriber.Status.PENDING, Subscriber.Status.CONFIRMED, Subscriber.Status.PAUSED)


def subscriber_unsubscribe(*, subscriber: Subscriber, reason: str = "") -> bool:
    """Stop all deliveries, from whichever status the row holds now (RFC 8058 one-click,
    the unsubscribe page). Idempotent: False when it was already unsubscribed."""
    try:
        subscriber.transition_to(Subscriber.Status.UNSUBSCRIBED, reason=reason, expected=_SUBSCRIBED)
    except StaleSubscriber:
        subscriber.refresh_from_db()  # already unsubscribed
        return False
    return True


def subscriber_resume(*, subscriber: Subscriber) -> bool:
    """A paused subscriber who saves their preferences again (e.g. a new webhook), or whom an
    operator resumes, is confirmed again: paused → confirmed only, so an unsubscribe that
    lands meanwhile wins. Returns whether it resumed."""
    if subscriber.status != Subscriber.Status.PAUSED:
        return False
    try:
        subscriber.transition_to(Subscriber.Status.CONFIRMED)
    except StaleSubscriber:
        return False
    return True


def subscriber_pause(*, subscriber: Subscriber, reason: str) -> bool:
    """Stop deliveries to a confirmed subscriber until they (or an operator) resume: a hard
    delivery failure or an operator's decision. Confirmed → paused only, so it never
    overrides an unsubscribe. Returns whether it paused."""
    try:
        subscriber.transition_to(
            Subscriber.Status.PAUSED, reason=reason, expected=[Subscriber.Status.CONFIRMED]
        )
    except StaleSubscriber:
        return False
    return True


# --- The digest -------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryMark:
    """How far a story had got as news: the time of its latest development, which is its first
    publication or, once a later version of its summary brought something new, that version's
    update (a StoryUpdate with an update line); for a follow-up, the time an editor accepted it.
    `published_articles` is kept for the record. A delivery records the mark of every story it
    carried (SentStory); the story goes to that reader again only once its mark is past the one
    they were sent: an unchanged story, or one that only gained articles or corrections saying
    nothing new, is never sent twice."""

    changed_at: dt.datetime
    published_articles: int

    def is_past(self, sent: StoryMark) -> bool:
        return self.changed_at > sent.changed_at


@dataclass(frozen=True)
class CatalogueEntry:
    """One story of the window, as any reader following it would see it."""

    story_id: int
    item: DigestItem
    topics: frozenset[int]
    mark: StoryMark
    # One of its articles went on the site in the window. A story that only moved otherwise in
    # the window (an update) goes only to readers who had it before.
    new: bool
    # A follow-up: the item shows the story that answered this story's "What to watch"
    # (`answer_story_id`); it goes to every reader of this story's topics who has not had it.
    follow_up: bool = False
    answer_story_id: int | None = None
    # Other stories this item stands for, with their marks, recorded as sent with it: a
    # follow-up carries its answering story when that story would have gone out too.
    also: tuple[tuple[int, StoryMark], ...] = ()


@dataclass
class Catalogue:
    """The stories that moved in one 24-hour window, latest first, loaded once per chunk."""

    entries: list[CatalogueEntry] = field(default_factory=list)

    @property
    def story_ids(self) -> list[int]:
        return list(dict.fromkeys(entry.story_id for entry in self.entries))

    def entries_for(
        self, topic_ids: Iterable[int] = (), sent: Mapping[int, StoryMark] | None = None
    ) -> list[CatalogueEntry]:
        """The stories, latest first, for a reader following `topic_ids` (no topics:
        everything) who was sent the stories in `sent` (story id → its mark then); a digest
        shows the first NEWSLETTER_MAX_ITEMS and links the archive for the rest:
        - a story they never had, when one of its articles went on the site in the window;
        - a story they had, only when its mark is past what they were sent: it was updated
          since, and it goes with its update line ("Updated: …");
        - a follow-up accepted in the window, unless they had it already; it stands for its
          answering story too, which then is not listed on its own.
        One item per story: the latest thing that happened to it."""
        wanted = set(topic_ids)
        sent = sent or {}
        eligible: list[CatalogueEntry] = []
        for entry in self.entries:
            if wanted and not entry.topics & wanted:
                continue
            before = sent.get(entry.story_id)
            if entry.follow_up:
                if before is not None and not entry.mark.is_past(before):
                    continue
            elif before is None:
                if not entry.new:
                    continue
            else:
                if not entry.mark.is_past(before) or not entry.item.update_line:
                    continue
                entry = dataclasses.replace(entry, item=dataclasses.replace(entry.item, updated=True))
            eligible.append(entry)
        answered = {entry.answer_story_id for entry in eligible if entry.follow_up}
        own_items = {entry.story_id: entry for entry in eligible if not entry.follow_up}
        chosen: list[CatalogueEntry] = []
        shown: set[int] = set()
        for entry in eligible:
            if entry.story_id in shown or (not entry.follow_up and entry.story_id in answered):
                continue
            if entry.follow_up and entry.answer_story_id in own_items:
                answer = own_items[entry.answer_story_id]
                entry = dataclasses.replace(entry, also=((answer.story_id, answer.mark),))
            chosen.append(entry)
            shown.add(entry.story_id)
        return chosen

    def items_for(self, topic_ids: Iterable[int] = ()) -> list[DigestItem]:
        """Every story for a reader who was sent none of them: the web archive, the preview
        and the test send (which show the first NEWSLETTER_MAX_ITEMS, as a digest does)."""
        return [entry.item for entry in self.entries_for(topic_ids)]


def digest_catalogue(*, until: dt.datetime) -> Catalogue:
    """One entry per story that moved in the 24 hours before `until` (one of its articles went
    on the site or was corrected, or it was updated: a StoryUpdate with an update line), and
    one per follow-up an editor accepted in that window, latest first. Seven queries however
    many stories.

    A story is shown by its lead when the lead is published, else by its earliest published
    article, with that article's current (latest approved) summary and the story's latest
    update line. It credits every source of its published articles and of their copies ("N
    sources"), and matches a topic when any of its published articles does. Corrections count
    only for articles put on the site within NEWSLETTER_SENT_STORY_DAYS: older ones have no
    reader the digest remembers.

    A follow-up is shown as "Follow-up to <old story>: <the answering story's title>", linking
    to the answering story with its takeaway, and matches the old story's topics; it needs
    the answering story on the site.
    """
    since = until - dt.timedelta(hours=24)
    remembered = until - dt.timedelta(days=settings.NEWSLETTER_SENT_STORY_DAYS)
    published = Article.objects.published().filter(published_on_site_at__lte=until)
    corrected_in_window = Q(corrected_at__gt=since, corrected_at__lte=until)
    moved_at = Greatest(
        "published_on_site_at",
        Case(When(corrected_in_window, then="corrected_at"), default="published_on_site_at"),
    )
    moved = (
        published.filter(story__isnull=False, published_on_site_at__gt=remembered)
        .filter(Q(published_on_site_at__gt=since) | corrected_in_window)
        .annotate(moved_at=moved_at)
        .order_by("-moved_at", "-pk")
        .values_list("story_id", "published_on_site_at", "moved_at")[: settings.NEWSLETTER_CATALOGUE_LIMIT]
    )
    moved_at_of: dict[int, dt.datetime] = {}  # story id → its latest move
    new: set[int] = set()
    for story_id, on_site_at, at in moved:
        moved_at_of.setdefault(story_id, at)
        if on_site_at > since:
            new.add(story_id)

    # Updates: those in the window move their story; the latest one of every story moved is its
    # mark and its line. Only versions with an update line are news to those who had the story.
    # An update of a story merged away (by an editor or by grouping) is one of the story it
    # joined, where its articles are now.
    moved_ids = list(moved_at_of)
    updates = (
        StoryUpdate.objects.filter(happened_at__lte=until, summary__isnull=False)
        .exclude(summary__update_line="")
        .filter(Q(happened_at__gt=since) | Q(story_id__in=moved_ids) | Q(story__merged_into_id__in=moved_ids))
        .annotate(kept_story_id=Coalesce("story__merged_into_id", "story_id"))
        .order_by("-happened_at", "-pk")
        .values_list("kept_story_id", "happened_at", "summary__update_line")[
            : settings.NEWSLETTER_CATALOGUE_LIMIT
        ]
    )
    latest_update: dict[int, tuple[dt.datetime, str]] = {}
    for story_id, happened_at, line in updates:
        latest_update.setdefault(story_id, (happened_at, line))
        if happened_at > since:
            moved_at_of[story_id] = max(moved_at_of.get(story_id, happened_at), happened_at)

    followups = list(
        OpenQuestion.objects.filter(
            status=OpenQuestion.Status.ACCEPTED,
            status_changed_at__gt=since,
            status_changed_at__lte=until,
            answer_story__isnull=False,
        )
        .order_by("-status_changed_at", "-pk")
        .values_list("story_id", "story__title", "answer_story_id", "status_changed_at")[
            : settings.NEWSLETTER_CATALOGUE_LIMIT
        ]
    )
    if not moved_at_of and not followups:
        return Catalogue()

    wanted = (
        set(moved_at_of) | {old for old, _, _, _ in followups} | {answer for _, _, answer, _ in followups}
    )
    approved = Prefetch(
        "summaries", queryset=Summary.objects.approved().order_by("-version"), to_attr="approved_summaries"
    )
    members: dict[int, list[Article]] = defaultdict(list)
    for article in (
        published.filter(story_id__in=wanted)
        .select_related("source", "story")
        .defer(
            "extracted_text", "feed_summary", "fingerprint", "embedding", "story__profile", "story__embedding"
        )
        .prefetch_related(approved, Prefetch("topics", queryset=Topic.objects.only("id")))
        .order_by("published_at", "pk")
    ):
        members[article.story_id].append(article)
    # Copies are never published themselves: their sources count when their original is.
    copy_sources: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for story_id, source_id, name in (
        Article.objects.filter(
            story_id__in=wanted,
            duplicate_of__status=Article.Status.PUBLISHED,
            duplicate_of__published_on_site_at__lte=min(until, timezone.now()),
        )
        .order_by("published_at", "pk")
        .values_list("story_id", "source_id", "source__name")
    ):
        copy_sources[story_id].append((source_id, name))

    def topics_of(story_id: int) -> frozenset[int]:
        return frozenset(topic.pk for article in members[story_id] for topic in article.topics.all())

    timed: list[tuple[dt.datetime, CatalogueEntry]] = []
    for story_id, at in moved_at_of.items():
        item = _story_item(members[story_id], copy_sources[story_id])
        if item is None:
            continue
        articles = members[story_id]
        update_at, line = latest_update.get(story_id, (None, ""))
        first_on_site = min(a.published_on_site_at for a in articles)
        mark = StoryMark(
            changed_at=max(first_on_site, update_at) if update_at else first_on_site,
            published_articles=len(articles),
        )
        item = dataclasses.replace(item, update_line=line)
        timed.append((at, CatalogueEntry(story_id, item, topics_of(story_id), mark, new=story_id in new)))
    for old_id, old_title, answer_id, accepted_at in followups:
        answer = _story_item(members[answer_id], copy_sources[answer_id])
        if answer is None or answer_id == old_id:
            # Not on the site yet; or answered within the story itself, whose update says so.
            continue
        item = dataclasses.replace(answer, title=f"Follow-up to {old_title}: {answer.title}")
        mark = StoryMark(changed_at=accepted_at, published_articles=len(members[old_id]))
        entry = CatalogueEntry(
            old_id, item, topics_of(old_id), mark, new=True, follow_up=True, answer_story_id=answer_id
        )
        timed.append((accepted_at, entry))
    timed.sort(key=lambda pair: pair[0], reverse=True)
    return Catalogue([entry for _, entry in timed])


def _story_item(articles: list[Article], copies: list[tuple[int, str]]) -> DigestItem | None:
    """A story's item from its published articles (publication order) and its copies' sources:
    shown by its lead when the lead has an approved summary, else by its earliest article that
    has one; None when none has."""
    readable = [article for article in articles if article.approved_summaries]
    if not readable:
        return None
    lead_id = readable[0].story.lead_id
    shown = next((article for article in readable if article.pk == lead_id), readable[0])
    sources = {shown.source_id: shown.source.name}
    for article in articles:
        sources.setdefault(article.source_id, article.source.name)
    for source_id, name in copies:
        sources.setdefault(source_id, name)
    return DigestItem(
        title=shown.title,
        source=shown.source.name,
        takeaway=shown.approved_summaries[0].key_takeaway,
        url=_story_link(story=shown.story, shown=shown, published_articles=len(articles)),
        sources=tuple(sources.values()),
    )


def _story_link(*, story: Story, shown: Article, published_articles: int) -> str:
    """The story's page when several published articles tell it (the page the reader site
    calls canonical then); otherwise the page of the article shown."""
    if published_articles > 1:
        return _absolute(story.get_absolute_url())
    return _absolute(shown.get_absolute_url())


def sent_history(
    *, subscriber_ids: Iterable[int], story_ids: Sequence[int]
) -> dict[int, dict[int, StoryMark]]:
    """subscriber id → {story id → the furthest mark a digest sent them} for the stories among
    `story_ids` that digests carried to these subscribers. One query; none without stories.

    A story merged into one of `story_ids` (by an editor or by grouping: `Story.merged_into`,
    always one hop) counts as that story: a reader who had it had the same event, so the story
    it joined is not news to them unless it was updated past what they were sent. A reader who
    had several of the merged stories keeps the furthest mark."""
    history: dict[int, dict[int, StoryMark]] = defaultdict(dict)
    if not story_ids:
        return history
    wanted = set(story_ids)
    rows = (
        SentStory.objects.filter(subscriber_id__in=list(subscriber_ids))
        .filter(Q(story_id__in=wanted) | Q(story__merged_into_id__in=wanted))
        .values_list("subscriber_id", "story_id", "story__merged_into_id")
        .annotate(changed_at=Max("changed_at"), published_articles=Max("published_articles"))
        .order_by()
    )
    for subscriber_id, story_id, merged_into_id, changed_at, published_articles in rows:
        key = story_id if story_id in wanted else merged_into_id
        known = history[subscriber_id].get(key)
        if known is not None:
            changed_at = max(changed_at, known.changed_at)
            published_articles = max(published_articles, known.published_articles)
        history[subscriber_id][key] = StoryMark(changed_at, published_articles)
    return history


# Old records go a slice at a time: one beat run never holds a long DELETE.
SENT_STORY_PRUNE_BATCH = 20_000


def sent_stories_prune(*, now: dt.datetime) -> int:
    """Forget what digests older than NEWSLETTER_SENT_STORY_DAYS carried, at most
    SENT_STORY_PRUNE_BATCH records a call (the beat calls it every run). Returns how many."""
    cutoff = now.date() - dt.timedelta(days=settings.NEWSLETTER_SENT_STORY_DAYS)
    old = SentStory.objects.filter(digest_date__lt=cutoff).values("pk")[:SENT_STORY_PRUNE_BATCH]
    deleted, _ = SentStory.objects.filter(pk__in=old).delete()
    return deleted


def first_publication_day() -> dt.date | None:
    """The UTC day the first summary went on the site (where the digest archive starts), or
    None before any did."""
    first = Article.objects.published().aggregate(first=Min("published_on_site_at"))["first"]
    return first.astimezone(dt.UTC).date() if first else None


def day_end_utc(day: dt.date) -> dt.datetime:
    """The archive's window for `day` ends at midnight UTC after it (or now, for today)."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return min(end, timezone.now())


def digest_message(
    *, day: dt.date, items: list[DigestItem], subscriber: Subscriber | None = None
) -> DigestMessage:
    """The digest of `items`: the first NEWSLETTER_MAX_ITEMS, and a count of the rest, which
    every channel sends the reader to the web archive for."""
    preferences_url = unsubscribe_url = ""
    if subscriber is not None:
        preferences_url, unsubscribe_url = manage_urls(subscriber=subscriber)
    limit = settings.NEWSLETTER_MAX_ITEMS
    return DigestMessage(
        day=day,
        items=items[:limit],
        archive_url=_absolute(reverse("digest_archive", args=[day.isoformat()])),
        preferences_url=preferences_url,
        unsubscribe_url=unsubscribe_url,
        more=max(0, len(items) - limit),
    )


# --- Scheduling -------------------------------------------------------------------------


def due_subscribers(*, now: dt.datetime) -> dict[dt.date, list[int]]:
    """Confirmed subscribers whose local send hour has come today and who have no delivery
    for their local today, grouped by that date.

    "Has come" is `local hour >= send hour`, not equality: when DST skips the send hour the
    next beat after it still matches, and when DST repeats it the row for that local date
    already exists. Either way exactly one digest per local day. One query per timezone in use.
    """
    due: dict[dt.date, list[int]] = defaultdict(list)
    confirmed = Subscriber.objects.confirmed()
    zones = confirmed.order_by().values_list("timezone", flat=True).distinct()
    for name in list(zones):
        local = now.astimezone(zoneinfo.ZoneInfo(name))
        day = local.date()
        ids = (
            confirmed.filter(timezone=name, send_hour__lte=local.hour)
            .exclude(Exists(Delivery.objects.filter(subscriber=OuterRef("pk"), digest_date=day)))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        due[day].extend(ids)
    return {day: ids for day, ids in due.items() if ids}


@dataclass
class DigestPlan:
    """What the beat should queue now: failed deliveries due for a retry and chunks of due
    subscribers for each local date. newsletter/tasks.py does the queueing."""

    retry_ids: list[int] = field(default_factory=list)
    chunks: list[tuple[list[int], dt.date]] = field(default_factory=list)
    recovered: int = 0
    pruned: int = 0


def digest_schedule(*, now: dt.datetime | None = None) -> DigestPlan:
    """The beat's job: recover stale LINE claims, forget a slice of expired sent-story records,
    and list the retries that are due and today's deliveries in chunks for the caller to
    queue. Safe to run twice at once: the claim decides who sends."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.NEWSLETTER_STALE_CLAIM_SECONDS)
    # Only LINE: its retry key makes the re-send harmless. See the module docstring.
    recovered = Delivery.objects.filter(channel=Subscriber.Channel.LINE, claimed_at__lt=stale).transition(
        Delivery.Status.FAILED,
        expected=[Delivery.Status.CLAIMED],
        next_retry_at=now,
        error="The worker stopped mid-send; re-sending with the same LINE retry key.",
    )
    retry_ids = list(
        Delivery.objects.filter(status=Delivery.Status.FAILED, next_retry_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    chunks = [
        (list(chunk), day)
        for day, ids in due_subscribers(now=now).items()
        for chunk in batched(ids, settings.NEWSLETTER_CHUNK_SIZE, strict=False)
    ]
    pruned = sent_stories_prune(now=now)
    return DigestPlan(retry_ids=retry_ids, chunks=chunks, recovered=recovered, pruned=pruned)


# --- Delivery ---------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    sent: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)

    def add(self, other: DeliveryReport) -> None:
        self.sent.update(other.sent)
        self.skipped.update(other.skipped)
        self.failed.update(other.failed)


def chunk_subscribers(*, subscriber_ids: Sequence[int]) -> dict[int, Subscriber]:
    """The confirmed subscribers among `subscriber_ids` with their topic ids, loaded once per
    chunk so each claim batch costs no subscriber queries. Two queries."""
    subscribers = (
        Subscriber.objects.confirmed()
        .filter(pk__in=subscriber_ids)
        .prefetch_related(Prefetch("topics", queryset=Topic.objects.only("id")))
    )
    return {subscriber.pk: subscriber for subscriber in subscribers}


def deliveries_claim(*, subscribers: Sequence[Subscriber], day: dt.date, now: dt.datetime) -> list[Delivery]:
    """Insert (subscriber, day) rows and return only those this call inserted, in subscriber
    order, each with its subscriber attached; rows another run already holds are silently left
    alone. Two queries."""
    if not subscribers:
        return []
    token = uuid.uuid4()
    Delivery.objects.bulk_create(
        [
            Delivery(
                subscriber_id=subscriber.pk,
                digest_date=day,
                channel=subscriber.channel,
                claim_token=token,
                claimed_at=now,
            )
            for subscriber in subscribers
        ],
        ignore_conflicts=True,
        batch_size=500,
    )
    by_pk = {subscriber.pk: subscriber for subscriber in subscribers}
    deliveries = list(Delivery.objects.filter(claim_token=token).order_by("subscriber_id"))
    for delivery in deliveries:
        delivery.subscriber = by_pk[delivery.subscriber_id]
    return deliveries


def digest_deliver_chunk(
    *, subscriber_ids: Sequence[int], day: dt.date, now: dt.datetime | None = None
) -> DeliveryReport:
    """Send `day`'s digest to these subscribers, claim batch by claim batch: claim up to
    NEWSLETTER_CLAIM_BATCH_SIZE rows, send them, mark them, claim the next. Running it twice
    (or twice at once) sends nothing twice. A worker killed mid-chunk leaves at most the
    in-flight claim batch claimed; the subscribers after it have no row and stay due.

    Queries: seven for the chunk (subscribers, topics, the five-query catalogue) and five per
    claim batch (insert and read back the claim, read what these subscribers were sent, mark
    sent and record the stories sent), plus one per failure or skipped group.
    """
    now = now or timezone.now()
    started = time.monotonic()
    report = DeliveryReport()
    subscribers = chunk_subscribers(subscriber_ids=subscriber_ids)
    if not subscribers:
        return report
    # Loaded before the first claim: if it fails, nothing is left claimed.
    catalogue = digest_catalogue(until=now)
    in_order = [subscribers[pk] for pk in sorted(subscribers)]
    batches = batched(in_order, settings.NEWSLETTER_CLAIM_BATCH_SIZE, strict=False)
    # One pool for the whole chunk: one SMTP connection, not one per claim batch.
    with ChannelPool() as pool:
        for number, batch in enumerate(batches):
            # A late batch is claimed minutes after `now`: date its claim by the real elapsed
            # time, or LINE's stale-claim recovery could take a row this worker is still sending.
            claimed_at = now if number == 0 else now + dt.timedelta(seconds=time.monotonic() - started)
            deliveries = deliveries_claim(subscribers=batch, day=day, now=claimed_at)
            if deliveries:
                report.add(deliveries_send(deliveries=deliveries, now=now, catalogue=catalogue, pool=pool))
    return report


def deliveries_send(
    *,
    deliveries: list[Delivery],
    now: dt.datetime,
    catalogue: Catalogue | None = None,
    pool: ChannelPool | None = None,
) -> DeliveryReport:
    """Send claimed deliveries (one claim batch, or one retry). Each subscriber gets one item
    per story of their topics, leaving out stories they were sent before that have not
    changed since (`Catalogue.entries_for`). Sent rows are marked together at the end, with
    the stories each one showed; failures are recorded one by one (they are rare). On an
    exception, sent rows are marked and unattempted ones released."""
    report = DeliveryReport()
    sent: list[int] = []
    skipped: list[int] = []
    carried: list[SentStory] = []
    attempted = 0
    try:
        if catalogue is None:
            catalogue = digest_catalogue(until=now)
        history = sent_history(
            subscriber_ids=[delivery.subscriber_id for delivery in deliveries], story_ids=catalogue.story_ids
        )
        # The caller's pool stays open for its next claim batch; our own is closed here.
        with nullcontext(pool) if pool is not None else ChannelPool() as pool:
            for delivery in deliveries:
                attempted += 1
                subscriber = delivery.subscriber
                entries = catalogue.entries_for(
                    (topic.pk for topic in subscriber.topics.all()), sent=history.get(subscriber.pk)
                )
                if not entries:
                    skipped.append(delivery.pk)
                    report.skipped[delivery.channel] += 1
                    continue
                message = digest_message(
                    day=delivery.digest_date, items=[entry.item for entry in entries], subscriber=subscriber
                )
                recipient = Recipient(
                    email=subscriber.email,
                    slack_webhook_url=subscriber.slack_webhook_url,
                    line_user_id=subscriber.line_user_id,
                    retry_key=str(delivery.retry_key),
                )
                try:
                    shown = pool.get(delivery.channel).send(message=message, recipient=recipient)
                except ChannelError as exc:
                    _record_failure(delivery=delivery, error=exc, now=now)
                    report.failed[delivery.channel] += 1
                    continue
                sent.append(delivery.pk)
                report.sent[delivery.channel] += 1
                # Stories a chat message left to its "more" link were not shown: not recorded.
                carried += [
                    SentStory(
                        delivery_id=delivery.pk,
                        subscriber_id=subscriber.pk,
                        digest_date=delivery.digest_date,
                        story_id=story_id,
                        changed_at=mark.changed_at,
                        published_articles=mark.published_articles,
                    )
                    for entry in entries[:shown]
                    for story_id, mark in ((entry.story_id, entry.mark), *entry.also)
                ]
    except BaseException:
        # An exception is not a crash we cannot see: keep the record exact. Rows never
        # attempted are released for the next beat run; the one in flight stays claimed.
        _mark(sent, Delivery.Status.SENT, now=now, carried=carried)
        _mark(skipped, Delivery.Status.SKIPPED, now=now)
        unattempted = Delivery.objects.filter(pk__in=[d.pk for d in deliveries[attempted:]])
        # A fresh claim is simply dropped; a retry keeps its row (and LINE retry key) and
        # goes back in the retry queue.
        unattempted.filter(attempts=0, status=Delivery.Status.CLAIMED).delete()
        unattempted.transition(Delivery.Status.FAILED, expected=[Delivery.Status.CLAIMED], next_retry_at=now)
        raise
    _mark(sent, Delivery.Status.SENT, now=now, carried=carried)
    _mark(skipped, Delivery.Status.SKIPPED, now=now)
    return report


def _mark(ids: list[int], status: str, *, now: dt.datetime, carried: Sequence[SentStory] = ()) -> None:
    """Close claimed rows, one UPDATE per 500, and record the stories the sent ones `carried` in
    the same transaction: a story counts as sent to someone exactly when their delivery does."""
    for group in batched(ids, 500, strict=False):
        with transaction.atomic():
            moved = Delivery.objects.filter(pk__in=group).transition(
                status,
                expected=[Delivery.Status.CLAIMED],
                sent_at=now if status == Delivery.Status.SENT else None,
                attempts=F("attempts") + 1,
                error="",
                next_retry_at=None,
            )
            if not carried:
                continue
            closed = set(group)
            if moved < len(group):
                # Some rows left `claimed` while they were being sent: an operator released
                # one (it will be sent again, so it records nothing now) or LINE's recovery
                # re-sent one (its retry recorded its stories). Record only rows now sent.
                closed = set(
                    Delivery.objects.filter(pk__in=group, status=Delivery.Status.SENT).values_list(
                        "pk", flat=True
                    )
                )
            SentStory.objects.bulk_create(
                [row for row in carried if row.delivery_id in closed], ignore_conflicts=True, batch_size=1000
            )


def _record_failure(*, delivery: Delivery, error: ChannelError, now: dt.datetime) -> None:
    """Temporary: retry with exponential backoff up to NEWSLETTER_MAX_ATTEMPTS. Hard: pause the
    subscription. Ambiguous: retry only where the channel is idempotent. Error: give up."""
    attempts = delivery.attempts + 1
    kind = error.kind
    if kind == FailureKind.AMBIGUOUS and CHANNELS[delivery.channel].idempotent:
        kind = FailureKind.TEMPORARY
    next_retry_at = None
    message = f"{kind}: {error}"
    if kind == FailureKind.TEMPORARY and attempts < settings.NEWSLETTER_MAX_ATTEMPTS:
        next_retry_at = now + dt.timedelta(
            seconds=settings.NEWSLETTER_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
        )
    elif kind == FailureKind.AMBIGUOUS:
        message += " — it may have been delivered; release it in the admin to send again."
    Delivery.objects.filter(pk=delivery.pk).transition(
        Delivery.Status.FAILED,
        expected=[Delivery.Status.CLAIMED],
        attempts=F("attempts") + 1,
        error=message[:2000],
        next_retry_at=next_retry_at,
    )
    if kind == FailureKind.HARD:
        # Only a confirmed subscriber is paused: one who unsubscribed mid-send stays unsubscribed.
        subscriber_pause(subscriber=delivery.subscriber, reason=f"{delivery.channel}: {error}")
    logger.warning("digest delivery %s failed (%s): %s", delivery.pk, kind, error)


def delivery_retry(*, delivery_id: int, now: dt.datetime | None = None) -> DeliveryReport:
    """Retry one failed delivery whose backoff has passed. The conditional UPDATE is the claim,
    so a retry queued twice runs once. Too late (after the next local day) or no longer
    subscribed: the row stays failed."""
    now = now or timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_id, next_retry_at__lte=now).transition(
        Delivery.Status.CLAIMED, expected=[Delivery.Status.FAILED], next_retry_at=None, claimed_at=now
    )
    if not claimed:
        return DeliveryReport()
    delivery = (
        Delivery.objects.select_related("subscriber")
        .prefetch_related(Prefetch("subscriber__topics", queryset=Topic.objects.only("id")))
        .get(pk=delivery_id)
    )
    too_late = now.date() > delivery.digest_date + dt.timedelta(days=1)
    if delivery.subscriber.status != Subscriber.Status.CONFIRMED or too_late:
        why = "too late to send" if too_late else f"subscription is {delivery.subscriber.status}"
        Delivery.objects.filter(pk=delivery_id).transition(
            Delivery.Status.FAILED,
            expected=[Delivery.Status.CLAIMED],
            error=f"{delivery.error}\nGave up: {why}."[:2000],
        )
        return DeliveryReport()
    return deliveries_send(deliveries=[delivery], now=now)


def delivery_release(*, delivery: Delivery, now: dt.datetime | None = None) -> bool:
    """Operator action: "this claimed or failed delivery did not arrive, send it again".
    Queued for the next beat run; sent deliveries cannot be released."""
    now = now or timezone.now()
    return bool(
        Delivery.objects.filter(pk=delivery.pk).transition(
            Delivery.Status.FAILED,
            expected=[Delivery.Status.CLAIMED, Delivery.Status.FAILED],
            next_retry_at=now,
            # Appended in the database: a failure recorded since the admin page loaded stays.
            error=Concat(F("error"), Value("\nReleased by an operator.")),
        )
    )


def digest_send_test(*, to_email: str, day: dt.date) -> int:
    """Email `day`'s unfiltered digest to a staff member; no Delivery row, no links to manage."""
    items = digest_catalogue(until=day_end_utc(day)).items_for()
    message = digest_message(day=day, items=items)
    channel = EmailChannel()
    try:
        channel.send(message=message, recipient=Recipient(email=to_email))
    finally:
        channel.close()
    return len(message.items)


def digest_send_now(
    *, day: dt.date | None = None, dry_run: bool = False
) -> tuple[DeliveryReport, Counter[str]]:
    """The `send_digest` command. Without `day`: whoever the beat would pick now. With `day`:
    every confirmed subscriber with no delivery for that date, whatever their hour (catch-up
    after an outage). Returns what was sent and what was due, per channel."""
    now = timezone.now()
    if day is None:
        groups = due_subscribers(now=now)
    else:
        ids = (
            Subscriber.objects.confirmed()
            .exclude(Exists(Delivery.objects.filter(subscriber=OuterRef("pk"), digest_date=day)))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        groups = {day: list(ids)}
    due: Counter[str] = Counter()
    for ids in groups.values():
        for chunk in batched(ids, 1000, strict=False):
            due.update(Subscriber.objects.filter(pk__in=chunk).values_list("channel", flat=True))
    report = DeliveryReport()
    if not dry_run:
        for group_day, ids in groups.items():
            for chunk in batched(ids, settings.NEWSLETTER_CHUNK_SIZE, strict=False):
                report.add(digest_deliver_chunk(subscriber_ids=list(chunk), day=group_day, now=now))
    return report, due
