"""Extracting an article: fetch its page (where robots.txt allows), keep its text and move\nit from `new` to `extracted` (or `failed`), or mark it a duplicate."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from articles.models import Article, count_words
from newsroom import http

from . import robots, tdmrep
from .extract import ExtractionError, extract_page


def articles_unextracted(*, older_than_seconds: int, limit: int = 500) -> list[int]:
    """Articles still `new` long after their poll: their extract message was lost (a broker
    restarted with the queue in memory, issue #9). Enqueueing them again is harmless:
    article_extract leaves an article that is no longer `new` alone. Oldest first."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = Article.objects.filter(status=Article.Status.NEW, status_changed_at__lt=cutoff)
    return list(stale.order_by("status_changed_at").values_list("pk", flat=True)[:limit])


def article_extract(*, article: Article) -> str:
    """Fetch the article page (where robots.txt allows), extract its text and metadata, and
    move the article from `new` to `extracted`, or to `failed` with a reason.

    Where the page cannot be fetched, is not allowed, reserves text and data mining (TDMRep,
    tdmrep.py: marked for the desk), or yields nothing, the feed's own content/summary is
    used instead. Text under ARTICLE_MIN_WORDS words is `thin-content`.
    Text identical to an earlier article's (content hash), or a page whose rel=canonical
    names an article we already have, sets `duplicate_of` and is not sent to summarisation.
    Idempotent: an article no longer `new` is left alone. Returns the outcome.
    """
    article = Article.objects.select_related("source").get(pk=article.pk)
    if article.status != Article.Status.NEW:
        return "skipped"
    notes: list[str] = []
    page = None
    reservation = tdmrep.Reservation()
    try:
        # Blocked addresses are reported as such, not as a robots.txt refusal.
        http.check_url_allowed(article.url)
        if not robots.robots_allowed(article.url):
            notes.append("robots.txt disallows the page")
        else:
            fetched = http.fetch(article.url, accept=http.PAGE_ACCEPT)
            reservation = tdmrep.page_reservation(
                fetched.url, headers=fetched.headers, content=fetched.content
            )
            if reservation.reserved:
                notes.append(reservation.note)
            else:
                page = extract_page(
                    fetched.content, url=fetched.url, declared_charset=_charset(fetched.headers)
                )
    except http.FetchError as exc:
        notes.append(f"page fetch failed ({exc.error_class}: {exc})")
    except ExtractionError as exc:
        notes.append(f"page extraction failed ({exc})")

    text = page.text if page else ""
    words = count_words(text)
    if words < settings.ARTICLE_MIN_WORDS and article.feed_summary.strip():
        if count_words(article.feed_summary) > words:
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
        tdmrep.reservation_record(article=article, reservation=reservation)
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
            article.transition_to(
                Article.Status.FAILED, reason="; ".join([reason, *notes]), **_extracted_fields(article)
            )
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
        article.transition_to(
            Article.Status.EXTRACTED,
            reason="; ".join(notes),
            duplicate_of=article.duplicate_of,
            **_extracted_fields(article),
        )
    return "duplicate" if article.duplicate_of_id else "extracted"


# What extraction fills in: written with the status change, never with a full save().
EXTRACTED_FIELDS = (
    "extracted_text",
    "word_count",
    "read_time",
    "content_hash",
    "title",
    "author",
    "language",
    "published_at",
    "lead_image_url",
)


def _extracted_fields(article: Article) -> dict:
    return {name: getattr(article, name) for name in EXTRACTED_FIELDS}


def _charset(headers: httpx.Headers) -> str:
    match = re.search(r"charset=([\w\-]+)", headers.get("content-type", ""), re.IGNORECASE)
    return match.group(1) if match else ""
