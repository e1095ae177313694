"""Adding, pausing and resuming sources."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from articles.models import AuditEntry, Source, Topic, validate_http_url
from newsroom import http

from .parse import FeedError, parse_feed


class SourceInvalid(Exception):
    """source_add refused the URL: not http(s), unreachable, or not a feed."""


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
        fetched = http.fetch(feed_url)
        feed = parse_feed(fetched.content)
    except (http.FetchError, FeedError) as exc:
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


def source_pause(*, source: Source, reason: str = "", actor=None) -> bool:
    """Pause a source, with an audit entry. A conditional UPDATE (only where it is not paused
    yet): a source already paused, by another editor or by the poller after repeated failures,
    keeps that pause and its reason, and nothing is recorded. Returns whether it paused."""
    now = timezone.now()
    reason = (reason or "Paused by the desk.")[:300]
    with transaction.atomic():
        if not Source.objects.filter(pk=source.pk, paused_at__isnull=True).update(
            paused_at=now, pause_reason=reason
        ):
            return False
        source.paused_at, source.pause_reason = now, reason
        AuditEntry.record("source-paused", actor=actor, target=source, reason=reason)
    return True


def source_resume(*, source: Source, actor=None) -> bool:
    """Unpause and make due now; the failure count restarts so back-off starts small again.
    A conditional UPDATE (only where it is paused): resuming twice records one resume and a
    source nobody paused keeps its schedule. Returns whether it resumed."""
    resumed = {
        "paused_at": None,
        "pause_reason": "",
        "consecutive_failures": 0,
        "next_poll_at": timezone.now(),
    }
    with transaction.atomic():
        if not Source.objects.filter(pk=source.pk, paused_at__isnull=False).update(**resumed):
            return False
        for name, value in resumed.items():
            setattr(source, name, value)
        AuditEntry.record("source-resumed", actor=actor, target=source)
    return True
