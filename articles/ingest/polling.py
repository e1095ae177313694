"""Polling sources: when each source is due, fetching its feed, storing new entries and\nrecording the fetch state (with update_fields, never over an editor's change made meanwhile)."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import slugify

from articles.models import Article, AuditEntry, FetchAttempt, Source, WebSubSubscription
from newsroom import http, websub

from .parse import FeedError, ParsedEntry, ParsedFeed, parse_feed
from .urls import canonical_url

log = logging.getLogger(__name__)


def clamp_interval(seconds: float) -> int:
    return int(min(max(seconds, settings.SOURCE_MIN_POLL_SECONDS), settings.SOURCE_MAX_POLL_SECONDS))


def publishing_interval(entries: Iterable[ParsedEntry], *, current: int) -> int:
    """Poll about twice per typical gap between the feed's recent entries, within bounds.

    A feed that posts every ten minutes is polled every five; a weekly blog once a day.
    Without at least two dated entries we keep what we had.
    """
    dates = sorted({e.published for e in entries if e.published is not None}, reverse=True)[:20]
    if len(dates) < 2:
        return clamp_interval(current)
    mean_gap = (dates[0] - dates[-1]).total_seconds() / (len(dates) - 1)
    return clamp_interval(mean_gap / 2)


def server_delay(headers: httpx.Headers | None, *, now: datetime) -> float:
    """The longest wait the server asked for through Cache-Control max-age or Expires."""
    if not headers:
        return 0.0
    delays = [0.0]
    match = re.search(r"max-age\s*=\s*(\d+)", headers.get("cache-control", ""))
    if match:
        delays.append(float(match.group(1)))
    if headers.get("expires"):
        try:
            expires = parsedate_to_datetime(headers["expires"])
            if expires.tzinfo is not None:
                delays.append((expires - now).total_seconds())
        except (TypeError, ValueError):
            pass
    return max(delays)


def next_poll_delay(
    *,
    interval: int,
    ttl_minutes: int | None = None,
    headers: httpx.Headers | None = None,
    retry_after: float | None = None,
    now: datetime,
) -> int:
    """The latest of: our interval, the feed's TTL, Retry-After, max-age and Expires,
    never beyond SOURCE_MAX_POLL_SECONDS (a far-future Expires must not silence a feed)."""
    delay = max(
        float(interval),
        float(ttl_minutes or 0) * 60,
        float(retry_after or 0),
        server_delay(headers, now=now),
    )
    return int(min(delay, settings.SOURCE_MAX_POLL_SECONDS))


def backoff_delay(failures: int, *, retry_after: float | None = None) -> int:
    """Exponential back-off from the minimum interval, doubling per failure, capped at a day."""
    base = settings.SOURCE_MIN_POLL_SECONDS * (2 ** max(0, min(failures - 1, 20)))
    return int(min(max(base, retry_after or 0), settings.SOURCE_MAX_POLL_SECONDS))


# --- Polling ------------------------------------------------------------------------------


@dataclass
class PollResult:
    source_id: int
    outcome: str  # FetchAttempt.Outcome value
    http_status: int | None = None
    entries_found: int = 0
    new: int = 0
    duplicate: int = 0
    error_class: str = ""
    error: str = ""
    parser: str = ""
    new_article_ids: list[int] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.outcome == FetchAttempt.Outcome.FAILED


def article_slug(title: str, url: str) -> str:
    """Unique without a query: the title's slug plus a short hash of the (unique) URL."""
    digest = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()[:10]
    return f"{slugify(title)[:180].strip('-') or 'article'}-{digest}"


def _known_keys(*, source: Source, urls: set[str], guids: set[str]) -> tuple[set[str], set[str]]:
    """One query: which of these URLs exist anywhere, which GUIDs exist in this source."""
    known_urls, known_guids = set(), set()
    rows = Article.objects.filter(Q(url__in=urls) | Q(source=source, guid__in=guids)).order_by()
    for url, guid, source_id in rows.values_list("url", "guid", "source_id"):
        known_urls.add(url)
        if source_id == source.pk and guid:
            known_guids.add(guid)
    return known_urls, known_guids


def entries_store(
    *, source: Source, feed: ParsedFeed, base_url: str, now: datetime | None = None
) -> tuple[list[int], int]:
    """Insert the feed's entries that are new; return (new article ids, duplicate count).

    Rules: an entry's identity is its canonical URL (unique across all sources) and, within
    one source, its GUID. Dedupe runs in bulk: one query finds every known URL and GUID of
    the batch, one insert stores the rest. Entries without a usable http(s) link are skipped.
    Entries without a date get the fetch time; dates in the future are clamped to it.
    """
    now = now or timezone.now()
    base = feed.link if feed.link.startswith(("http://", "https://")) else base_url
    candidates: list[tuple[str, str, ParsedEntry]] = []
    for entry in feed.entries:
        url = canonical_url(entry.link, base=base_url if entry.link.startswith("/") else base)
        if not url or len(url) > 1000:
            continue
        candidates.append((url, entry.guid.strip()[:1000], entry))
    if not candidates:
        return [], 0

    known_urls, known_guids = _known_keys(
        source=source,
        urls={url for url, _, _ in candidates},
        guids={guid for _, guid, _ in candidates if guid},
    )

    new_rows: list[Article] = []
    duplicates = 0
    for url, guid, entry in candidates:
        if url in known_urls or (guid and guid in known_guids):
            duplicates += 1
            continue
        known_urls.add(url)
        if guid:
            known_guids.add(guid)
        published = entry.published or now
        title = (entry.title or url)[:500]
        new_rows.append(
            Article(
                source=source,
                url=url,
                guid=guid,
                title=title,
                author=entry.author[:300],
                published_at=min(published, now),
                fetched_at=now,
                feed_summary=entry.content or entry.summary,
                slug=article_slug(title, url),
                status=Article.Status.NEW,
                status_changed_at=now,
            )
        )
    if not new_rows:
        return [], duplicates
    try:
        # The common case: one INSERT ... RETURNING id for the whole batch.
        with transaction.atomic():
            Article.objects.bulk_create(new_rows, batch_size=500)
        ids = [a.pk for a in new_rows if a.pk is not None]
    except IntegrityError:
        # Another source's poll inserted one of these URLs between our query and this insert;
        # that row stays theirs and the rest go in.
        Article.objects.bulk_create(new_rows, batch_size=500, ignore_conflicts=True)
        ids = list(
            Article.objects.filter(
                source=source, url__in=[a.url for a in new_rows], fetched_at=now
            ).values_list("id", flat=True)
        )
    duplicates += len(new_rows) - len(ids)
    topic_ids = list(source.topics.values_list("id", flat=True))
    if topic_ids and ids:
        through = Article.topics.through
        through.objects.bulk_create(
            [through(article_id=a, topic_id=t) for a in ids for t in topic_ids], ignore_conflicts=True
        )
    return ids, duplicates


def feed_store(
    *, source: Source, content: bytes, base_url: str, result: PollResult, now: datetime
) -> ParsedFeed:
    """Parse feed bytes and store their new entries in one transaction, counting into `result`:
    the one path from bytes to articles, for a poll and a WebSub push alike, so an entry that
    came one way is a duplicate when it comes the other. Raises FeedError."""
    feed = parse_feed(content)
    result.parser = feed.parser
    result.entries_found = len(feed.entries)
    with transaction.atomic():
        ids, dupes = entries_store(source=source, feed=feed, base_url=base_url, now=now)
    result.new_article_ids, result.new, result.duplicate = ids, len(ids), dupes
    result.outcome = FetchAttempt.Outcome.OK
    return feed


def source_push(*, source: Source, content: bytes, base_url: str, now: datetime | None = None) -> PollResult:
    """Store the entries a WebSub hub pushed for `source` through the poll's own path
    (feed_store). A push is not a poll: no fetch state and no FetchAttempt are written.
    Raises FeedError for a body that is not a feed."""
    result = PollResult(source_id=source.pk, outcome=FetchAttempt.Outcome.FAILED)
    feed_store(source=source, content=content, base_url=base_url, result=result, now=now or timezone.now())
    return result


def source_poll(*, source: Source, now: datetime | None = None) -> PollResult:
    """Fetch, parse and store one source; record a FetchAttempt; schedule the next poll.

    Never raises for a bad feed: every failure becomes a failed attempt with an error class.
    Success resets the failure count and adapts the interval to how often the feed
    publishes; failure backs off exponentially and, after SOURCE_PAUSE_AFTER_FAILURES in a
    row or among the last twice as many polls, pauses the source with an audit entry the
    admin shows as an alert. A 301/308 seen on SOURCE_REDIRECT_CONFIRMATIONS consecutive
    polls moves the stored feed URL. A feed that names a WebSub hub gets a subscription
    (WebSubSubscription.record_discovery); while its lease runs, the source is polled at least
    WEBSUB_SAFETY_POLL_SECONDS apart.
    """
    now = now or timezone.now()
    started = time.monotonic()
    result = PollResult(source_id=source.pk, outcome=FetchAttempt.Outcome.FAILED)
    retry_after: float | None = None
    headers: httpx.Headers | None = None
    feed: ParsedFeed | None = None
    fetched: http.FetchResult | None = None
    try:
        fetched = http.fetch(source.feed_url, etag=source.etag, last_modified=source.last_modified)
        result.http_status, headers = fetched.status, fetched.headers
        if fetched.not_modified:
            result.outcome = FetchAttempt.Outcome.NOT_MODIFIED
        else:
            feed = feed_store(
                source=source, content=fetched.content, base_url=fetched.url, result=result, now=now
            )
            links = websub.discover(content=fetched.content, headers=fetched.headers, url=fetched.url)
            WebSubSubscription.record_discovery(
                source=source, hub_url=links.hub, topic_url=links.topic, now=now
            )
    except (http.FetchError, FeedError) as exc:
        result.error_class = exc.error_class
        result.error = str(exc)[:2000]
        if isinstance(exc, http.FetchError):
            result.http_status = exc.status
            retry_after = exc.retry_after
    except Exception as exc:  # noqa: BLE001 - one broken source must never stop the others
        log.exception("Unexpected error polling source %s", source.pk)
        result.error_class, result.error = "internal", f"{type(exc).__name__}: {exc}"[:2000]

    recorded = _source_record(
        source=source,
        result=result,
        fetched=fetched,
        feed=feed,
        headers=headers,
        retry_after=retry_after,
        now=now,
    )
    if recorded:
        FetchAttempt.objects.create(
            source=source,
            started_at=now,
            duration_ms=int((time.monotonic() - started) * 1000),
            outcome=result.outcome,
            http_status=result.http_status,
            error_class=result.error_class,
            error=result.error,
            entries_found=result.entries_found,
            entries_new=result.new,
            entries_duplicate=result.duplicate,
        )
    return result


# The columns a poll owns. The rest of the row (name, topics, is_active, auto_publish, the
# pause) belongs to the desk: a poll that read the row before a fetch of up to 30 seconds
# must never write those back over an editor's change made meanwhile.
FETCH_STATE_FIELDS = (
    "etag",
    "last_modified",
    "last_fetched_at",
    "last_success_at",
    "next_poll_at",
    "poll_interval_seconds",
    "consecutive_failures",
    "last_status",
    "last_error_class",
    "last_error",
    "redirect_target",
    "redirect_streak",
)


def _source_record(
    *,
    source: Source,
    result: PollResult,
    fetched: http.FetchResult | None,
    feed: ParsedFeed | None,
    headers: httpx.Headers | None,
    retry_after: float | None,
    now: datetime,
) -> bool:
    """Write the poll's fetch state: one UPDATE of FETCH_STATE_FIELDS only, the failure count
    moved with F() so a reset by source_resume meanwhile is not undone. Then, each as its own
    conditional UPDATE, the automatic pause and a confirmed permanent redirect. Returns False
    when the source was deleted during the poll (nothing is written)."""
    source.last_fetched_at = now
    source.last_status = result.outcome
    moved_to = ""
    if result.failed:
        # Back-off from the count this poll read; the stored count is incremented in the database.
        failures = source.consecutive_failures + 1
        source.consecutive_failures = F("consecutive_failures") + 1
        source.last_error_class, source.last_error = result.error_class, result.error
        source.next_poll_at = now + timedelta(seconds=backoff_delay(failures, retry_after=retry_after))
    else:
        source.consecutive_failures = 0
        source.last_success_at = now
        source.last_error_class, source.last_error = "", ""
        if fetched is not None:
            source.etag = (fetched.headers.get("etag") or source.etag)[:500]
            source.last_modified = (fetched.headers.get("last-modified") or source.last_modified)[:100]
        if feed is not None:
            source.poll_interval_seconds = publishing_interval(
                feed.entries, current=source.poll_interval_seconds
            )
        source.next_poll_at = now + timedelta(
            seconds=next_poll_delay(
                interval=source.poll_interval_seconds,
                ttl_minutes=feed.ttl_minutes if feed else None,
                headers=headers,
                now=now,
            )
        )
        if WebSubSubscription.objects.live(now).filter(source=source).exists():
            # The hub pushes new entries; polling stays on as a slower net under a hub gone quiet.
            safety = now + timedelta(seconds=settings.WEBSUB_SAFETY_POLL_SECONDS)
            source.next_poll_at = max(source.next_poll_at, safety)
        moved_to = _count_permanent_redirect(
            source=source, target=fetched.permanent_redirect if fetched else ""
        )
    state = {name: getattr(source, name) for name in FETCH_STATE_FIELDS}
    if not Source.objects.filter(pk=source.pk).update(**state):
        return False
    if result.failed:
        source.refresh_from_db(fields=["consecutive_failures"])
        _pause_after_failures(source=source, result=result, now=now)
    if moved_to:
        _move_feed_url(source=source, target=moved_to)
    return True


# A source that fails every other poll (a flaky host, or a feed that alternates good and bad
# answers) never fails SOURCE_PAUSE_AFTER_FAILURES times in a row, and each success resets its
# back-off; so a source is also paused once that many of its last FAILURE_WINDOW_FACTOR times
# as many polls failed (half of them).
FAILURE_WINDOW_FACTOR = 2


def _failures_in_window(*, source: Source, limit: int) -> tuple[int, int]:
    """(failed polls, polls) among the source's last FAILURE_WINDOW_FACTOR * limit polls, this
    failed one included (its attempt is recorded after this check). Only polls since the
    source was last resumed count: a resume starts it afresh."""
    attempts = FetchAttempt.objects.filter(source=source)
    resumed_at = (
        AuditEntry.objects.filter(
            action="source-resumed", target_type=source._meta.label_lower, target_id=str(source.pk)
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if resumed_at is not None:
        attempts = attempts.filter(started_at__gte=resumed_at)
    earlier = list(
        attempts.order_by("-started_at").values_list("outcome", flat=True)[
            : limit * FAILURE_WINDOW_FACTOR - 1
        ]
    )
    return 1 + earlier.count(FetchAttempt.Outcome.FAILED), 1 + len(earlier)


def _pause_after_failures(*, source: Source, result: PollResult, now: datetime) -> None:
    """Pause after SOURCE_PAUSE_AFTER_FAILURES failures in a row, or that many among the last
    FAILURE_WINDOW_FACTOR times as many polls. The pause is a conditional UPDATE: only while
    nobody paused the source meanwhile (and, for failures in a row, while the stored count is
    still at the limit), so an editor's own pause (and its reason) is never overwritten."""
    limit = settings.SOURCE_PAUSE_AFTER_FAILURES
    if not limit:
        return
    last = f"last: {result.error_class}: {result.error}"
    if source.consecutive_failures >= limit:
        reason = f"Paused after {source.consecutive_failures} failed polls in a row; {last}"
        still = Q(consecutive_failures__gte=limit)
    else:
        failed, polls = _failures_in_window(source=source, limit=limit)
        if failed < limit:
            return
        reason = f"Paused after {failed} failed polls out of the last {polls}; {last}"
        still = Q()
    reason = reason[:300]
    with transaction.atomic():
        paused = Source.objects.filter(still, pk=source.pk, paused_at__isnull=True).update(
            paused_at=now, pause_reason=reason
        )
        if not paused:
            return
        source.paused_at, source.pause_reason = now, reason
        AuditEntry.record("source-paused", target=source, automatic=True, reason=reason)
    log.warning("Source %s paused: %s", source.pk, reason)


def _count_permanent_redirect(*, source: Source, target: str) -> str:
    """Count consecutive polls that saw the same permanent redirect (in memory, written with
    the fetch state); return the target once SOURCE_REDIRECT_CONFIRMATIONS is reached."""
    if not target or target == source.feed_url:
        source.redirect_target, source.redirect_streak = "", 0
        return ""
    if target == source.redirect_target:
        source.redirect_streak += 1
    else:
        source.redirect_target, source.redirect_streak = target[:1000], 1
    if source.redirect_streak < settings.SOURCE_REDIRECT_CONFIRMATIONS:
        return ""
    if Source.objects.filter(feed_url=target).exclude(pk=source.pk).exists():
        return ""  # another source already polls the new address; the desk merges by hand
    return target


def _move_feed_url(*, source: Source, target: str) -> None:
    """Move the stored feed URL, only where it is still the URL this poll fetched (an editor
    may have changed it meanwhile), with an audit entry."""
    old_url, streak = source.feed_url, source.redirect_streak
    moved_state = {
        "feed_url": target,
        "redirect_target": "",
        "redirect_streak": 0,
        "etag": "",
        "last_modified": "",
    }
    try:
        with transaction.atomic():
            if not Source.objects.filter(pk=source.pk, feed_url=old_url).update(**moved_state):
                return
            AuditEntry.record(
                "source-moved",
                target=source,
                automatic=True,
                reason=f"Permanent redirect seen {streak} polls in a row.",
                old_url=old_url,
                new_url=target,
            )
    except IntegrityError:
        return  # another source took the new address meanwhile; the desk merges by hand
    for name, value in moved_state.items():
        setattr(source, name, value)


def sources_claim_due(*, now: datetime | None = None, lease_seconds: int = 600) -> list[int]:
    """Claim every due source by pushing its next_poll_at ahead with a conditional UPDATE,
    so two overlapping beats (or beat plus a manual run) never poll one source twice."""
    now = now or timezone.now()
    claimed = []
    for pk in Source.objects.due(now).values_list("pk", flat=True):
        lease = now + timedelta(seconds=lease_seconds)
        still_due = Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now)
        if Source.objects.filter(still_due, pk=pk).update(next_poll_at=lease):
            claimed.append(pk)
    return claimed
