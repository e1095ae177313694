"""Ingestion workflows: poll a source, store its new entries, extract an article, manage
sources and OPML. Commands, tasks and the admin are thin doors onto these functions.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from articles.models import Article, AuditEntry, FetchAttempt, Source, Topic, validate_http_url

from . import fetch, robots
from .extract import ExtractionError, extract_page
from .parse import FeedError, ParsedEntry, ParsedFeed, parse_feed
from .urls import canonical_url

log = logging.getLogger(__name__)


class SourceInvalid(Exception):
    """add_source refused the URL: not http(s), unreachable, or not a feed."""


# --- Scheduling ---------------------------------------------------------------------------


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


def source_poll(*, source: Source, now: datetime | None = None) -> PollResult:
    """Fetch, parse and store one source; record a FetchAttempt; schedule the next poll.

    Never raises for a bad feed: every failure becomes a failed attempt with an error class.
    Success resets the failure count and adapts the interval to how often the feed
    publishes; failure backs off exponentially and, after SOURCE_PAUSE_AFTER_FAILURES in a
    row, pauses the source with an audit entry the admin shows as an alert. A 301/308 seen
    on SOURCE_REDIRECT_CONFIRMATIONS consecutive polls moves the stored feed URL.
    """
    now = now or timezone.now()
    started = time.monotonic()
    result = PollResult(source_id=source.pk, outcome=FetchAttempt.Outcome.FAILED)
    retry_after: float | None = None
    headers: httpx.Headers | None = None
    feed: ParsedFeed | None = None
    fetched: fetch.FetchResult | None = None
    try:
        fetched = fetch.fetch(source.feed_url, etag=source.etag, last_modified=source.last_modified)
        result.http_status, headers = fetched.status, fetched.headers
        if fetched.not_modified:
            result.outcome = FetchAttempt.Outcome.NOT_MODIFIED
        else:
            feed = parse_feed(fetched.content)
            result.parser = feed.parser
            result.entries_found = len(feed.entries)
            with transaction.atomic():
                ids, dupes = entries_store(source=source, feed=feed, base_url=fetched.url, now=now)
            result.new_article_ids, result.new, result.duplicate = ids, len(ids), dupes
            result.outcome = FetchAttempt.Outcome.OK
    except (fetch.FetchError, FeedError) as exc:
        result.error_class = exc.error_class
        result.error = str(exc)[:2000]
        if isinstance(exc, fetch.FetchError):
            result.http_status = exc.status
            retry_after = exc.retry_after
    except Exception as exc:  # noqa: BLE001 - one broken source must never stop the others
        log.exception("Unexpected error polling source %s", source.pk)
        result.error_class, result.error = "internal", f"{type(exc).__name__}: {exc}"[:2000]

    _source_record(
        source=source,
        result=result,
        fetched=fetched,
        feed=feed,
        headers=headers,
        retry_after=retry_after,
        now=now,
    )
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


def _source_record(
    *,
    source: Source,
    result: PollResult,
    fetched: fetch.FetchResult | None,
    feed: ParsedFeed | None,
    headers: httpx.Headers | None,
    retry_after: float | None,
    now: datetime,
) -> None:
    source.last_fetched_at = now
    source.last_status = result.outcome
    if result.failed:
        source.consecutive_failures += 1
        source.last_error_class, source.last_error = result.error_class, result.error
        source.next_poll_at = now + timedelta(
            seconds=backoff_delay(source.consecutive_failures, retry_after=retry_after)
        )
        limit = settings.SOURCE_PAUSE_AFTER_FAILURES
        if limit and source.consecutive_failures >= limit and source.paused_at is None:
            source.paused_at = now
            source.pause_reason = (
                f"Paused after {source.consecutive_failures} failed polls in a row; "
                f"last: {result.error_class}: {result.error}"
            )[:300]
            AuditEntry.record("source-paused", target=source, automatic=True, reason=source.pause_reason)
            log.warning("Source %s paused: %s", source.pk, source.pause_reason)
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
        _follow_permanent_redirect(source=source, target=fetched.permanent_redirect if fetched else "")
    source.save()


def _follow_permanent_redirect(*, source: Source, target: str) -> None:
    if not target or target == source.feed_url:
        source.redirect_target, source.redirect_streak = "", 0
        return
    if target == source.redirect_target:
        source.redirect_streak += 1
    else:
        source.redirect_target, source.redirect_streak = target[:1000], 1
    if source.redirect_streak >= settings.SOURCE_REDIRECT_CONFIRMATIONS:
        if Source.objects.filter(feed_url=target).exclude(pk=source.pk).exists():
            return  # another source already polls the new address; the desk merges by hand
        AuditEntry.record(
            "source-moved",
            target=source,
            automatic=True,
            reason=f"Permanent redirect seen {source.redirect_streak} polls in a row.",
            old_url=source.feed_url,
            new_url=target,
        )
        source.feed_url = target
        source.redirect_target, source.redirect_streak = "", 0
        source.etag, source.last_modified = "", ""


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


# --- Extraction ---------------------------------------------------------------------------


def articles_unextracted(*, older_than_seconds: int, limit: int = 500) -> list[int]:
    """Articles still `new` long after their poll: their extract message was lost (a broker
    restarted with the queue in memory, issue #9). Enqueueing them again is harmless:
    article_extract leaves an article that is no longer `new` alone. Oldest first."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = Article.objects.filter(status=Article.Status.NEW, status_changed_at__lt=cutoff)
    return list(stale.order_by("status_changed_at").values_list("pk", flat=True)[:limit])


def _lazy_summarize(article_id: int) -> None:
    # summarize_article lives in the Summaries section of articles/tasks.py, written by
    # another branch; look it up when the transaction commits, not at import time.
    from articles import tasks

    task = getattr(tasks, "summarize_article", None)
    if task is not None:
        task.delay(article_id)


def article_extract(*, article: Article) -> str:
    """Fetch the article page (where robots.txt allows), extract its text and metadata, and
    move the article from `new` to `extracted`, or to `failed` with a reason.

    Where the page cannot be fetched, is not allowed, or yields nothing, the feed's own
    content/summary is used instead. Text under ARTICLE_MIN_WORDS words is `thin-content`.
    Text identical to an earlier article's (content hash), or a page whose rel=canonical
    names an article we already have, sets `duplicate_of` and is not sent to summarisation.
    Idempotent: an article no longer `new` is left alone. Returns the outcome.
    """
    article = Article.objects.select_related("source").get(pk=article.pk)
    if article.status != Article.Status.NEW:
        return "skipped"
    notes: list[str] = []
    page = None
    try:
        # Blocked addresses are reported as such, not as a robots.txt refusal.
        fetch.check_url_allowed(article.url)
        if not robots.robots_allowed(article.url):
            notes.append("robots.txt disallows the page")
        else:
            fetched = fetch.fetch(article.url, accept=fetch.PAGE_ACCEPT)
            page = extract_page(fetched.content, url=fetched.url, declared_charset=_charset(fetched.headers))
    except fetch.FetchError as exc:
        notes.append(f"page fetch failed ({exc.error_class}: {exc})")
    except ExtractionError as exc:
        notes.append(f"page extraction failed ({exc})")

    text = page.text if page else ""
    if len(text.split()) < settings.ARTICLE_MIN_WORDS and article.feed_summary.strip():
        if len(article.feed_summary.split()) > len(text.split()):
            text = article.feed_summary
            notes.append("used the feed's content")
    article.set_text(text)
    if page:
        article.title = article.title if article.title and article.title != article.url else page.title[:500]
        article.author = article.author or page.author[:300]
        article.language = page.language or article.language
        # An entry without a date was stamped with the fetch time; the page may know better.
        if (
            page.published
            and article.published_at == article.fetched_at
            and page.published < article.fetched_at
        ):
            article.published_at = page.published
        if page.image_url.startswith(("http://", "https://")) and len(page.image_url) <= 1000:
            article.lead_image_url = page.image_url

    with transaction.atomic():
        # Two extract tasks for one article (a redelivered message and the sweeper's) may both
        # have read it as `new`; the row lock makes the later one see the first one's result
        # instead of overwriting a status the pipeline has already moved on.
        current = Article.objects.select_for_update().filter(pk=article.pk).values_list("status", flat=True)
        if current.first() != Article.Status.NEW:
            return "skipped"
        duplicate = None
        if page and page.canonical_url and page.canonical_url != article.url:
            duplicate = Article.objects.filter(url=page.canonical_url).exclude(pk=article.pk).first()
            if duplicate is None:
                try:
                    with transaction.atomic():
                        Article.objects.filter(pk=article.pk).update(url=page.canonical_url)
                    article.url = page.canonical_url
                except IntegrityError:
                    duplicate = Article.objects.filter(url=page.canonical_url).first()
        if article.word_count < settings.ARTICLE_MIN_WORDS:
            reason = f"thin-content: {article.word_count} words"
            article.transition_to(Article.Status.FAILED, reason="; ".join([reason, *notes]), save=False)
            article.save()
            return "thin-content"
        if duplicate is None and article.content_hash:
            duplicate = (
                Article.objects.filter(content_hash=article.content_hash)
                .exclude(pk=article.pk)
                .order_by("pk")
                .first()
            )
        if duplicate is not None:
            article.duplicate_of = duplicate.duplicate_of or duplicate
            notes.insert(0, f"duplicate of article {article.duplicate_of.pk}")
        article.transition_to(Article.Status.EXTRACTED, reason="; ".join(notes), save=False)
        article.save()
        if article.duplicate_of_id is None:
            article_id = article.pk
            transaction.on_commit(lambda: _lazy_summarize(article_id))
    return "duplicate" if article.duplicate_of_id else "extracted"


def _charset(headers: httpx.Headers) -> str:
    match = re.search(r"charset=([\w\-]+)", headers.get("content-type", ""), re.IGNORECASE)
    return match.group(1) if match else ""


# --- Managing sources ---------------------------------------------------------------------


def _topics(slugs: Iterable[str]) -> list[Topic]:
    topics = []
    for slug in slugs:
        slug = slugify(slug)
        if slug:
            topic, _ = Topic.objects.get_or_create(
                slug=slug, defaults={"name": slug.replace("-", " ").title()}
            )
            topics.append(topic)
    return topics


def source_add(*, feed_url: str, name: str = "", topic_slugs: Iterable[str] = ()) -> Source:
    """Fetch the feed once to prove it is one, then store the source (due at once).

    Raises SourceInvalid, leaving no row, for a non-http(s) URL, a blocked or unreachable
    address, or a body that is not a feed. A URL already stored is also refused.
    """
    feed_url = feed_url.strip()
    try:
        validate_http_url(feed_url)
    except ValidationError as exc:
        raise SourceInvalid(f"{feed_url!r} is not an http(s) URL.") from exc
    if Source.objects.filter(feed_url=feed_url).exists():
        raise SourceInvalid(f"{feed_url} is already a source.")
    try:
        fetched = fetch.fetch(feed_url)
        feed = parse_feed(fetched.content)
    except (fetch.FetchError, FeedError) as exc:
        raise SourceInvalid(f"{feed_url} is not a usable feed ({exc.error_class}): {exc}") from exc
    site_url = feed.link if feed.link.startswith(("http://", "https://")) else ""
    with transaction.atomic():
        source = Source.objects.create(
            name=(name or feed.title or urlsplit(feed_url).hostname or feed_url)[:200],
            feed_url=feed_url,
            site_url=site_url[:500],
            next_poll_at=timezone.now(),
        )
        source.topics.set(_topics(topic_slugs))
    return source


def source_pause(*, source: Source, reason: str = "", actor=None) -> None:
    source.paused_at = timezone.now()
    source.pause_reason = (reason or "Paused by the desk.")[:300]
    source.save(update_fields=["paused_at", "pause_reason"])
    AuditEntry.record("source-paused", actor=actor, target=source, reason=source.pause_reason)


def source_resume(*, source: Source, actor=None) -> None:
    """Unpause and make due now; the failure count restarts so back-off starts small again."""
    source.paused_at = None
    source.pause_reason = ""
    source.consecutive_failures = 0
    source.next_poll_at = timezone.now()
    source.save(update_fields=["paused_at", "pause_reason", "consecutive_failures", "next_poll_at"])
    AuditEntry.record("source-resumed", actor=actor, target=source)


# --- OPML ---------------------------------------------------------------------------------


@dataclass
class OpmlReport:
    added: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


@dataclass
class OpmlOutline:
    url: str
    title: str = ""
    site_url: str = ""
    category: str = ""


def _lenient_attr(tag: str, name: str) -> str:
    # Real OPML files carry raw & and unescaped quotes in attributes; take the value up to the
    # quote that is followed by another attribute or the end of the tag.
    match = re.search(rf'\b{name}\s*=\s*"(.*?)"(?=\s+[\w:]+\s*=|\s*$)', tag, re.IGNORECASE | re.DOTALL)
    if not match:
        match = re.search(rf"\b{name}\s*=\s*'(.*?)'(?=\s+[\w:]+\s*=|\s*$)", tag, re.IGNORECASE | re.DOTALL)
    return match.group(1).replace("&amp;", "&").strip() if match else ""


def opml_outlines(content: bytes) -> list[OpmlOutline]:
    """Feed outlines from OPML; strict XML first, then a lenient scan for broken files."""
    if re.search(rb"<!ENTITY", content[:65536]):
        raise FeedError("The OPML file declares XML entities; refused.")
    outlines: list[OpmlOutline] = []
    try:
        root = ElementTree.fromstring(content)
        body = root.find("body")

        def walk(node: ElementTree.Element, category: str) -> None:
            for child in node.findall("outline"):
                url = (child.get("xmlUrl") or child.get("xmlurl") or "").strip()
                label = child.get("title") or child.get("text") or ""
                if url:
                    outlines.append(
                        OpmlOutline(
                            url=url,
                            title=label.strip(),
                            site_url=(child.get("htmlUrl") or "").strip(),
                            category=(child.get("category") or category).strip(),
                        )
                    )
                walk(child, label if not url else category)

        walk(body if body is not None else root, "")
        return outlines
    except ElementTree.ParseError:
        pass
    text = content.decode("utf-8", errors="replace")
    category = ""
    # Raw "<p>" and quotes inside attribute values defeat any tag regex; split on "<outline"
    # instead and read each piece's attributes up to its closing "/>" or ">".
    for piece in re.split(r"<outline\b", text)[1:]:
        attrs = re.split(r"</outline|</body", piece, maxsplit=1)[0].strip()
        attrs = attrs.removesuffix("/>").removesuffix(">").strip()
        url = _lenient_attr(attrs, "xmlUrl")
        label = _lenient_attr(attrs, "title") or _lenient_attr(attrs, "text")
        if not url:
            category = label
            continue
        outlines.append(
            OpmlOutline(url=url, title=label, site_url=_lenient_attr(attrs, "htmlUrl"), category=category)
        )
    return outlines


def opml_import(*, content: bytes) -> OpmlReport:
    """Add every feed in the OPML that we do not have yet. Idempotent; never fetches, so a
    catalogue loads offline. Outlines whose category names an existing topic get that topic."""
    report = OpmlReport()
    outlines = opml_outlines(content)
    present = set(
        Source.objects.filter(feed_url__in=[o.url for o in outlines]).values_list("feed_url", flat=True)
    )
    topics = {t.slug: t for t in Topic.objects.all()}
    now = timezone.now()
    for outline in outlines:
        try:
            validate_http_url(outline.url)
            if len(outline.url) > 1000:
                raise ValidationError("too long")
        except ValidationError:
            report.invalid.append(outline.url)
            continue
        if outline.url in present:
            report.present.append(outline.url)
            continue
        site_url = outline.site_url
        try:
            validate_http_url(site_url)
        except ValidationError:
            site_url = ""
        with transaction.atomic():
            source = Source.objects.create(
                name=(outline.title or urlsplit(outline.url).hostname or outline.url)[:200],
                feed_url=outline.url,
                site_url=site_url[:500],
                next_poll_at=now,
            )
            topic = topics.get(slugify(outline.category)) if outline.category else None
            if topic is not None:
                source.topics.add(topic)
        present.add(outline.url)
        report.added.append(outline.url)
    return report


def opml_export(*, sources: Iterable[Source] | None = None) -> str:
    """OPML 2.0 of the sources, each with its topics in the `category` attribute."""
    if sources is None:
        sources = Source.objects.prefetch_related("topics").order_by("name")
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = f"{settings.SITE_NAME} sources"
    ElementTree.SubElement(head, "dateCreated").text = timezone.now().strftime("%a, %d %b %Y %H:%M:%S GMT")
    body = ElementTree.SubElement(root, "body")
    for source in sources:
        attrs = {"type": "rss", "text": source.name, "title": source.name, "xmlUrl": source.feed_url}
        if source.site_url:
            attrs["htmlUrl"] = source.site_url
        categories = ",".join(t.slug for t in source.topics.all())
        if categories:
            attrs["category"] = categories
        ElementTree.SubElement(body, "outline", attrs)
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"
