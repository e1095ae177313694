"""Reader search over published articles: title and current key takeaway.

On PostgreSQL: full-text search (`websearch_to_tsquery`, so quotes and `-word` work), ranked
with title matches above takeaway matches, and a highlighted snippet from `ts_headline`.
On SQLite (the zero-config leg): every word must appear in the title or the takeaway
(case-insensitive), newest first, with the words highlighted in Python.

Snippets are built with private-use marker characters, escaped, and only then turned into
<mark> tags, so nothing from an article can inject markup into the results page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db.models import Exists, F, OuterRef, Q
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from articles.models import Article, Summary

from .queries import latest_approved, published_cards, visible_comment_count

SEARCH_CONFIG = "english"
MAX_QUERY_LENGTH = 200
MAX_RESULTS = 50
_START, _STOP = "\ue000", "\ue001"


def _highlight(marked: str) -> SafeString:
    escaped = escape(marked)
    return mark_safe(escaped.replace(_START, "<mark>").replace(_STOP, "</mark>"))  # noqa: S308


def _python_marks(text: str, words: list[str]) -> str:
    if not words:
        return text
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)), re.IGNORECASE)
    return pattern.sub(lambda m: f"{_START}{m.group(0)}{_STOP}", text)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result as the results page shows it: which article, and its highlighted
    title and takeaway; the rest of its card comes from the card cache (cards.search_cards)."""

    pk: int
    slug: str
    comment_count: int
    title_html: SafeString
    snippet: SafeString
    rank: float | None = None


def search_hits(*, query: str, limit: int = MAX_RESULTS) -> list[SearchHit]:
    """Published articles matching `query`, best first: one query."""
    query = " ".join(query.split())[:MAX_QUERY_LENGTH]
    if not query:
        return []
    if settings.IS_POSTGRES:
        return _search_postgres(query, limit)
    return _search_fallback(query, limit)


def search_articles(*, query: str, limit: int = MAX_RESULTS) -> list[Article]:
    """The hits as articles ready for a card (the JSON API's search), each with its `.snippet`
    and `.title_html` (safe HTML) and `.rank`: three queries."""
    hits = search_hits(query=query, limit=limit)
    articles = {article.pk: article for article in published_cards().filter(pk__in=[h.pk for h in hits])}
    results = []
    for hit in hits:
        article = articles.get(hit.pk)
        if article is None:  # taken down between the two queries
            continue
        article.snippet, article.title_html, article.rank = hit.snippet, hit.title_html, hit.rank
        results.append(article)
    return results


def _search_postgres(query: str, limit: int) -> list[SearchHit]:
    """The match is `title @@ q OR current takeaway @@ q`, each side over the exact expression
    of a GIN index (migration 0002_reader_search_indexes), their ids joined with UNION so
    PostgreSQL reads both indexes and then only the matching articles by primary key
    (tests/articles/reader/test_search.py checks the plan with EXPLAIN). Ranking weighs title (A)
    above takeaway (B) and runs only on matching rows; ts_headline, the expensive part, and the
    comment count are computed after the LIMIT, for the page of results only.
    """
    ts_query = SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
    takeaway_matches = (
        Summary.objects.approved()
        .annotate(document=SearchVector("key_takeaway", config=SEARCH_CONFIG))
        .filter(document=ts_query)
        # Only the current version: a takeaway an editor corrected away must not match.
        .exclude(
            Exists(
                Summary.objects.approved().filter(
                    article=OuterRef("article"), version__gt=OuterRef("version")
                )
            )
        )
        .values("article_id")
    )
    title_matches = (
        Article.objects.annotate(title_document=SearchVector("title", config=SEARCH_CONFIG))
        .filter(title_document=ts_query)
        .values("pk")
    )
    weighted = SearchVector("title", weight="A", config=SEARCH_CONFIG) + SearchVector(
        "key_takeaway", weight="B", config=SEARCH_CONFIG
    )
    rows = (
        # The ids that match, from the two GIN indexes, as one UNION: `title @@ q OR pk IN (…)`
        # cannot use an index for the OR and would scan every article.
        Article.objects.published()
        .filter(pk__in=title_matches.union(takeaway_matches))
        .annotate(key_takeaway=latest_approved("key_takeaway"))
        .annotate(rank=SearchRank(weighted, ts_query))
        .annotate(
            comment_count=visible_comment_count(),
            headline=SearchHeadline(
                F("key_takeaway"),
                ts_query,
                config=SEARCH_CONFIG,
                start_sel=_START,
                stop_sel=_STOP,
                highlight_all=True,  # a takeaway is one short paragraph: show all of it
            ),
        )
        .order_by("-rank", "-published_on_site_at", "-pk")
        .values_list("pk", "slug", "comment_count", "title", "headline", "rank")[:limit]
    )
    return [
        SearchHit(
            pk=pk,
            slug=slug,
            comment_count=comments,
            title_html=_highlight(title),
            snippet=_highlight(headline or ""),
            rank=rank,
        )
        for pk, slug, comments, title, headline, rank in rows
    ]


def _search_fallback(query: str, limit: int) -> list[SearchHit]:
    words = [w.strip("\"'") for w in query.split()]
    wanted = [w for w in words if w and not w.startswith("-")]
    unwanted = [w[1:] for w in words if w.startswith("-") and len(w) > 1]
    condition = Q()
    for word in wanted:
        condition &= Q(title__icontains=word) | Q(key_takeaway__icontains=word)
    for word in unwanted:  # "-word" excludes, as websearch_to_tsquery does on PostgreSQL
        condition &= ~(Q(title__icontains=word) | Q(key_takeaway__icontains=word))
    if not wanted:
        return []
    rows = (
        Article.objects.published()
        .annotate(key_takeaway=latest_approved("key_takeaway"), comment_count=visible_comment_count())
        .filter(condition)
        .order_by("-published_on_site_at", "-pk")
        .values_list("pk", "slug", "comment_count", "title", "key_takeaway")[:limit]
    )
    return [
        SearchHit(
            pk=pk,
            slug=slug,
            comment_count=comments,
            title_html=_highlight(_python_marks(title, wanted)),
            snippet=_highlight(_python_marks(takeaway or "", wanted)),
        )
        for pk, slug, comments, title, takeaway in rows
    ]
