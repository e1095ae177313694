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

from newsroom.frozen import join_values, split_at_values
from newsroom.pagecache import GENERATION_KEY, get_many, new_generation, page_cache

from .queries import published_cards
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


def _search_card_key(item, *, heading_level: int) -> str:
    # Everything a search card shows besides its title and takeaway changes with the global
    # generation (an edit, a publication, topics, a renamed source) except the comment count,
    # which is part of the key; the generation is checked inside the entry, so one MGET does.
    return _digest(
        "search",
        CARD_TEMPLATE_VERSION,
        get_language(),
        timezone.get_current_timezone_name(),
        heading_level,
        item.pk,
        item.comment_count,
    )


def search_cards(hits: list, *, heading_level: int = 3) -> list[SafeString]:
    """Search results (`SearchHit`s, articles/reader/search.py) as `_card.html`s.

    A card is stored per article without its title and takeaway, which the search highlights
    for each query: they are put into the stored card's text. When every card is stored this
    costs one MGET; the missing ones are loaded (two queries), rendered and stored.
    """
    if not hits:
        return []
    template = loader.get_template("articles/_card.html")
    values = {hit.pk: {"title": hit.title_html, "takeaway": hit.snippet} for hit in hits}

    def split(article) -> dict:
        def render(stand_ins: dict[str, str]) -> str:
            article.title_html = mark_safe(stand_ins["title"])  # noqa: S308 - a stand-in
            # Without a takeaway the card has no paragraph for one, as in a listing.
            article.snippet = mark_safe(stand_ins["takeaway"]) if article.key_takeaway else ""  # noqa: S308
            return template.render({"article": article, "heading_level": heading_level})

        pieces, order = split_at_values(render, ["title", "takeaway"])
        return {"pieces": pieces, "order": order}

    timeout = settings.CARD_CACHE_SECONDS
    keys = [_search_card_key(hit, heading_level=heading_level) for hit in hits]
    found: dict = {}
    generation = None
    if timeout > 0:
        try:
            found = get_many([GENERATION_KEY, *keys])
            generation = found.get(GENERATION_KEY) or _card_generation()
        except Exception:
            logger.exception("Card cache unavailable; rendering cards")
            timeout = 0
    cards: dict[int, dict] = {}
    for hit, key in zip(hits, keys, strict=True):
        entry = found.get(key)
        if entry is not None and entry["generation"] == generation:
            cards[hit.pk] = entry["card"]
    missing = [hit.pk for hit in hits if hit.pk not in cards]
    if missing:
        built = {
            article.pk: (article, split(article)) for article in published_cards().filter(pk__in=missing)
        }
        cards.update({pk: card for pk, (_article, card) in built.items()})
        stored = {
            # Keyed by the comment count the card shows, which a comment may have just moved.
            _search_card_key(article, heading_level=heading_level): {"generation": generation, "card": card}
            for article, card in built.values()
        }
        if timeout > 0 and stored:
            try:
                page_cache().set_many(stored, timeout=timeout)
            except Exception:
                logger.exception("Could not store cards in the cache")
    return [
        mark_safe(join_values(cards[hit.pk]["pieces"], cards[hit.pk]["order"], values[hit.pk]))  # noqa: S308
        for hit in hits
        if hit.pk in cards  # an article taken down since the search ran has no card
    ]
