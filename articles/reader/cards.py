"""Cached card fragments for listing pages.

An uncached listing page spends most of its time rendering 20 `_card.html` includes. Cards
are the same for every reader, so each rendered card is cached on its own and a listing is
assembled from them. The key is the page cache's global generation (bumped on every
publish/edit/topic change) PLUS a digest of every value the card shows, so a new comment
count, a retitled source or a search snippet can never be served from an older card even
where no signal bumps a generation. Cards hold nothing per-reader, so sharing them is safe.
They live beside the pages in the bounded "pages" cache alias (newsroom/pagecache.py).
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.template import loader
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from newsroom.pagecache import GENERATION_KEY, get_many, new_generation, page_cache

logger = logging.getLogger(__name__)

CARD_PREFIX = "pagecache:card:"
# Bump when templates/articles/_card.html changes, so a deploy never serves old markup.
CARD_TEMPLATE_VERSION = "1"


def _card_digest(article, *, generation: int, heading_level: int, hide_topics: bool) -> str:
    source = article.source
    topics = () if hide_topics else tuple((t.pk, t.slug, t.name) for t in article.topics.all())
    published = article.published_on_site_at
    parts = (
        CARD_TEMPLATE_VERSION,
        generation,
        get_language(),
        timezone.get_current_timezone_name(),
        heading_level,
        hide_topics,
        article.pk,
        article.slug,
        article.title,
        str(getattr(article, "title_html", "") or ""),
        str(getattr(article, "snippet", "") or ""),
        getattr(article, "key_takeaway", None),
        getattr(article, "comment_count", None),
        article.read_time,
        published.isoformat() if published else None,
        source.pk,
        source.slug,
        source.name,
        topics,
    )
    return CARD_PREFIX + hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def _card_generation() -> int:
    pages = page_cache()
    generation = pages.get(GENERATION_KEY)
    if generation is None:
        generation = new_generation()
        if not pages.add(GENERATION_KEY, generation, timeout=None):
            generation = pages.get(GENERATION_KEY, generation)
    return generation


def rendered_cards(articles, *, heading_level: int = 2, hide_topics: bool = False) -> list[SafeString]:
    """Each article's `_card.html`, from the card cache where possible (two cache round trips).

    Falls back to rendering every card when the cache is off (`CARD_CACHE_SECONDS=0`) or down.
    """
    articles = list(articles)
    if not articles:
        return []
    template = loader.get_template("articles/_card.html")

    def render(article) -> SafeString:
        context = {"article": article, "heading_level": heading_level, "hide_topics": hide_topics}
        return mark_safe(template.render(context))  # noqa: S308 - autoescaped template output

    timeout = settings.CARD_CACHE_SECONDS
    if timeout <= 0:
        return [render(article) for article in articles]
    try:
        generation = _card_generation()
        keys = [
            _card_digest(article, generation=generation, heading_level=heading_level, hide_topics=hide_topics)
            for article in articles
        ]
        found = get_many(keys)
    except Exception:
        logger.exception("Card cache unavailable; rendering cards")
        return [render(article) for article in articles]
    cards: list[SafeString] = []
    missing: dict[str, str] = {}
    for key, article in zip(keys, articles, strict=True):
        html = found.get(key)
        if html is None:
            html = render(article)
            missing[key] = str(html)
        cards.append(mark_safe(html))  # noqa: S308 - stored from autoescaped template output
    if missing:
        try:
            page_cache().set_many(missing, timeout=timeout)
        except Exception:
            logger.exception("Could not store cards in the cache")
    return cards
