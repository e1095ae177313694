"""Cached card fragments for listing pages.

An uncached listing page spends most of its time rendering 20 card includes: story cards
(`_story_card.html`) on the home, topic and source pages, article cards (`_card.html`) in
search results and related articles. Cards are the same for every reader, so each rendered
card is cached on its own and a listing is assembled from them. The key is the page cache's
global generation (bumped on every publish/edit/topic change) PLUS a digest of every value
the card shows, so a new comment count, a retitled source, a search snippet or a story that
gained a source can never be served from an older card even where no signal bumps a
generation. Cards hold nothing per-reader, so sharing them is safe. They live beside the
pages in the bounded "pages" cache alias (newsroom/pagecache.py).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.template import loader
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from newsroom.pagecache import GENERATION_KEY, get_many, new_generation, page_cache

from .stories import StoryCard

logger = logging.getLogger(__name__)

CARD_PREFIX = "pagecache:card:"
# Bump when templates/articles/_card.html (or _story_card.html) changes, so a deploy never
# serves old markup.
CARD_TEMPLATE_VERSION = "1"
STORY_CARD_TEMPLATE_VERSION = "1"


def _article_parts(article, *, hide_topics: bool) -> tuple:
    """Every value an article card shows."""
    source = article.source
    topics = () if hide_topics else tuple((t.pk, t.slug, t.name) for t in article.topics.all())
    published = article.published_on_site_at
    return (
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


def _digest(*parts: object) -> str:
    return CARD_PREFIX + hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def _card_digest(article, *, generation: int, heading_level: int, hide_topics: bool) -> str:
    return _digest(
        CARD_TEMPLATE_VERSION,
        generation,
        get_language(),
        timezone.get_current_timezone_name(),
        heading_level,
        hide_topics,
        _article_parts(article, hide_topics=hide_topics),
    )


def _story_card_digest(card: StoryCard, *, generation: int, heading_level: int, hide_topics: bool) -> str:
    # The story's own row (title, lead, updated_at, which every regrouping or editor
    # decision moves) and each member as shown: any change of the story retires its card.
    return _digest(
        "story",
        STORY_CARD_TEMPLATE_VERSION,
        generation,
        get_language(),
        timezone.get_current_timezone_name(),
        heading_level,
        hide_topics,
        _article_parts(card.article, hide_topics=hide_topics),
        card.coverage.key_parts(),
    )


def _card_generation() -> int:
    pages = page_cache()
    generation = pages.get(GENERATION_KEY)
    if generation is None:
        generation = new_generation()
        if not pages.add(GENERATION_KEY, generation, timeout=None):
            generation = pages.get(GENERATION_KEY, generation)
    return generation


def _cached(
    items: list[Any],
    *,
    template_name: str,
    context: Callable[[Any], dict[str, Any]],
    digest: Callable[[Any, int], str],
) -> list[SafeString]:
    """Each item rendered with `template_name`, from the card cache where possible (two cache
    round trips). Falls back to rendering every card when the cache is off
    (`CARD_CACHE_SECONDS=0`) or down."""
    if not items:
        return []
    template = loader.get_template(template_name)

    def render(item: Any) -> SafeString:
        return mark_safe(template.render(context(item)))  # noqa: S308 - autoescaped template output

    timeout = settings.CARD_CACHE_SECONDS
    if timeout <= 0:
        return [render(item) for item in items]
    try:
        generation = _card_generation()
        keys = [digest(item, generation) for item in items]
        found = get_many(keys)
    except Exception:
        logger.exception("Card cache unavailable; rendering cards")
        return [render(item) for item in items]
    cards: list[SafeString] = []
    missing: dict[str, str] = {}
    for key, item in zip(keys, items, strict=True):
        html = found.get(key)
        if html is None:
            html = render(item)
            missing[key] = str(html)
        cards.append(mark_safe(html))  # noqa: S308 - stored from autoescaped template output
    if missing:
        try:
            page_cache().set_many(missing, timeout=timeout)
        except Exception:
            logger.exception("Could not store cards in the cache")
    return cards


def rendered_cards(articles, *, heading_level: int = 2, hide_topics: bool = False) -> list[SafeString]:
    """Each article's `_card.html` (search results, related articles)."""
    options = {"heading_level": heading_level, "hide_topics": hide_topics}
    return _cached(
        list(articles),
        template_name="articles/_card.html",
        context=lambda article: {"article": article, **options},
        digest=lambda article, generation: _card_digest(article, generation=generation, **options),
    )


def rendered_story_cards(
    cards: list[StoryCard], *, heading_level: int = 2, hide_topics: bool = False
) -> list[SafeString]:
    """Each story's `_story_card.html` (home, topic and source pages)."""
    options = {"heading_level": heading_level, "hide_topics": hide_topics}
    return _cached(
        list(cards),
        template_name="articles/_story_card.html",
        context=lambda card: {"card": card, **options},
        digest=lambda card, generation: _story_card_digest(card, generation=generation, **options),
    )
