"""Page fragments: the parts of a reader page that are the same for everyone, rendered once.

A logged-in reader bypasses the page cache (newsroom/pagecache.py): their page carries their
name, a CSRF token and their own edit links. Most of it does not: an article's story block
(topics, takeaway, key points, FAQ, source line, coverage), its related cards and sign-up
box, the discussion with a slot for each reader's own controls (comments/discussion.py); a
listing's heading, chips, story cards and pagination. Those are rendered once and stored in
the "pages" cache alias; a page is then one MGET (the fragment and its two generations) plus
the per-reader part: the header with the reader's name, and the discussion's slots filled for
the reader (their form and token, their own edit and delete links, flag and reply buttons,
moderators' links). A fragment never holds anything from a request: it is built from the
database alone, without the reader, the session or a nonce.

Validity is the page cache's, so invalidation is exact in the same way: an entry remembers
the global generation and its page's path generation it was built under, and is ignored
once either moves (articles/reader/invalidation.py bumps them on commit). So a publish, an
edit, a correction, a topic change or a renamed source retires every fragment; a comment or
a story change retires the fragments of the pages that show it. FRAGMENT_CACHE_SECONDS bounds
what no signal covers (comment counts on listing cards), as PAGE_CACHE_SECONDS does for whole
pages; 0 builds every fragment every time.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.template import loader
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language

from comments.discussion import build_shared_discussion
from newsroom.pagecache import (
    GENERATION_KEY,
    get_many,
    new_generation,
    page_cache,
    path_generation_key,
)

from . import citations, stories
from . import queries as reader

logger = logging.getLogger(__name__)

FRAGMENT_PREFIX = "pagecache:fragment:"
# Bump when a fragment's templates or shape change, or the Article or Summary fields (an article
# fragment holds both, pickled), so a deploy never serves old markup or rows of an older shape.
FRAGMENT_TEMPLATE_VERSION = "3"


def fragment_key(*, name: str, path: str, variant: str = "") -> str:
    raw = repr(
        (
            FRAGMENT_TEMPLATE_VERSION,
            name,
            path,
            variant,
            get_language(),
            timezone.get_current_timezone_name(),
        )
    )
    return FRAGMENT_PREFIX + hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def cached_fragment[Parts](
    *, name: str, path: str, variant: str = "", build: Callable[[], tuple[Parts | None, bool]]
) -> Parts | None:
    """The fragment `name` of the page at `path` (with `variant`: a listing's page number).

    One cache round trip on a hit. On a miss `build()` returns (parts, storable): None for a
    page that does not exist (never stored), and storable False for a request whose address
    is not the page's canonical one. The generations are read before building, so a change
    committed while we build moves them and the entry we store is never served.
    """
    timeout = settings.FRAGMENT_CACHE_SECONDS
    if timeout <= 0:
        return build()[0]
    key = fragment_key(name=name, path=path, variant=variant)
    generation_key = path_generation_key(path)
    try:
        found = get_many([GENERATION_KEY, generation_key, key])
    except Exception:
        logger.exception("Fragment cache unavailable; rendering")
        return build()[0]
    generation = found.get(GENERATION_KEY)
    path_generation = found.get(generation_key)  # None until the page is first invalidated
    entry = found.get(key)
    if (
        entry is not None
        and generation is not None
        and entry["generation"] == generation
        and entry["path_generation"] == path_generation
    ):
        return entry["parts"]
    pages = page_cache()
    try:
        if generation is None:
            generation = new_generation()
            # add(): when two workers race, both keep whichever value won.
            if not pages.add(GENERATION_KEY, generation, timeout=None):
                generation = pages.get(GENERATION_KEY, generation)
    except Exception:
        logger.exception("Fragment cache unavailable; rendering")
        return build()[0]
    parts, storable = build()
    if parts is None or not storable:
        return parts
    entry = {"generation": generation, "path_generation": path_generation, "parts": parts}
    try:
        pages.set(key, entry, timeout=timeout)
    except Exception:
        logger.exception("Could not store a fragment in the cache")
    return parts


# --- What each page stores ----------------------------------------------------------------


def _site() -> dict[str, str]:
    # Fragments are rendered without a request (nothing of the reader's may get in), so the
    # context processors' values are passed by hand.
    return {"SITE_NAME": settings.SITE_NAME, "SITE_URL": settings.SITE_URL}


def build_article_parts(slug: str) -> dict | None:
    """Everything on an article page that is the same for every reader, or None (no such page).

    The discussion is stored as every reader shares it, with slots for each reader's own
    controls (comments/discussion.py). The article and its summary ride along for the few
    readers whose discussion is rendered in full, pickled once more (`article_rows`): unpickling
    two model instances cost more than everything else in the fragment, and most pages need
    only the title.
    """
    article = reader.article_for_page(slug)
    if article is None:
        return None
    summary = article.summary
    coverage = stories.coverage_of(article)
    also_covered, also_published = coverage.around(article)
    context = {
        **_site(),
        "article": article,
        "summary": summary,
        "coverage": coverage,
        "also_covered": also_covered,
        "also_published": also_published,
        "cited": citations.cited(summary, article),
        "developments": stories.developments_on_page(article, coverage),
        "related": reader.related_articles(article),
        "json_ld": reader.article_json_ld(article, summary),
        "canonical_url": reader.absolute_url(coverage.canonical_path_of(article)),
    }
    return {
        "title": article.title,
        "rows": pickle.dumps((article, summary), protocol=pickle.HIGHEST_PROTOCOL),
        "meta": loader.render_to_string("articles/_article_meta.html", context),
        "story": loader.render_to_string("articles/_article_story.html", context),
        "discussion": build_shared_discussion(article=article, summary=summary),
        "after": loader.render_to_string("articles/_article_after.html", context),
    }


def article_parts(slug: str) -> dict | None:
    """An article page's shared fragments: one cache round trip when stored, else built."""
    path = reverse("article", args=[slug])
    return cached_fragment(name="article", path=path, build=lambda: (build_article_parts(slug), True))


def article_rows(parts: dict) -> tuple[Any, Any]:
    """The article and its approved summary stored with an article page's fragment."""
    return pickle.loads(parts["rows"])  # noqa: S301 - bytes we pickled, from our own cache


def listing_parts(context: dict, *, path: str, title: str) -> dict:
    """A listing's shared fragments (home, topic, source), from a view's listing context."""
    context = {**_site(), **context, "path": path}
    return {
        "title": title,
        "head": loader.render_to_string("articles/_listing_head.html", context),
        "content": loader.render_to_string("articles/_listing.html", context),
    }
