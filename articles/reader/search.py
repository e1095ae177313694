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
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from articles.models import Article
from comments.models import Comment

from .queries import latest_approved, published_cards, visible_comment_count

SEARCH_CONFIG = "english"
MAX_QUERY_LENGTH = 200
MAX_RESULTS = 50
# The results page: RESULTS_PER_PAGE at a time, at most MAX_PAGES deep (a reader who has not
# found it by then needs other words, and a deep OFFSET costs a ranking of every match).
RESULTS_PER_PAGE = 20
MAX_PAGES = 10
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


def search_hits(*, query: str, limit: int = MAX_RESULTS, offset: int = 0) -> list[SearchHit]:
    """Published articles matching `query`, best first, `offset` of them skipped: one query."""
    query = " ".join(query.split())[:MAX_QUERY_LENGTH]
    if not query:
        return []
    if settings.IS_POSTGRES:
        return _search_postgres(query, limit, offset)
    return _search_fallback(query, limit, offset)


@dataclass(frozen=True, slots=True)
class ResultsPage:
    """One page of the reader's search results (the search page's view)."""

    words: str  # the query as searched: whitespace collapsed, capped
    number: int
    hits: list[SearchHit]
    has_next: bool

    @property
    def complete(self) -> bool:
        """Every match is on this page, so their number is known."""
        return self.number == 1 and not self.has_next


def results_page(*, query: str, page: str | None) -> ResultsPage:
    """Page `page` (a query parameter: 1 when missing or malformed, at most MAX_PAGES) of the
    hits for `query`. One more hit than a page tells whether a next page exists, without
    counting every match."""
    words = " ".join(query.split())[:MAX_QUERY_LENGTH]
    number = _page_number(page)
    hits = search_hits(query=words, limit=RESULTS_PER_PAGE + 1, offset=(number - 1) * RESULTS_PER_PAGE)
    has_next = len(hits) > RESULTS_PER_PAGE and number < MAX_PAGES
    return ResultsPage(words=words, number=number, hits=hits[:RESULTS_PER_PAGE], has_next=has_next)


def _page_number(raw: str | None) -> int:
    try:
        number = int(raw or 1)
    except ValueError:
        return 1
    return min(max(number, 1), MAX_PAGES)


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


# The ranking query, written out: Django spent ~10 ms of CPU building it with the ORM (its
# subqueries are copied for every reference), twenty times what running it costs the web
# process (issue #16). The match is `title @@ q OR current takeaway @@ q`, each side over a
# stored, GIN-indexed tsvector column (migration 0011_stored_search_documents, PostgreSQL keeps
# it in step with the text), their ids joined with UNION so PostgreSQL reads both indexes and
# then only the matching articles by primary key: `title @@ q OR pk IN (…)` cannot use an index
# for the OR and would scan every article (tests/articles/reader/test_search.py checks the plan
# with EXPLAIN). "Published" and "approved" are Article.objects.published() and
# Summary.objects.approved(); only an article's latest approved summary counts, so a takeaway
# an editor corrected away never matches. Ranking weighs the title (A) above the takeaway (B)
# from the same stored vectors (no text is parsed at query time) and runs only on matching
# rows; ts_headline, the expensive part, and the comment count are computed after the LIMIT,
# for the page of results only.
_QUERY = f"websearch_to_tsquery('{SEARCH_CONFIG}'::regconfig, %(words)s)"

_RANKED = f"""
SELECT a.id, a.slug, a.title,
       ts_headline('{SEARCH_CONFIG}'::regconfig, current.key_takeaway, {_QUERY}, %(headline)s),
       ts_rank(a.search_title || COALESCE(current.search_takeaway, ''::tsvector), {_QUERY}) AS rank,
       (SELECT COUNT(*) FROM comments_comment c WHERE c.article_id = a.id AND c.status = %(visible)s)
  FROM articles_article a
       LEFT JOIN LATERAL (
           SELECT s.key_takeaway, s.search_takeaway FROM articles_summary s
            WHERE s.article_id = a.id AND s.approved_at IS NOT NULL
            ORDER BY s.version DESC LIMIT 1
       ) current ON true
 WHERE a.status = %(published)s AND a.published_on_site_at <= %(now)s
   AND a.id IN (
       SELECT t.id FROM articles_article t WHERE t.search_title @@ {_QUERY}
       UNION
       SELECT s.article_id FROM articles_summary s
        WHERE s.approved_at IS NOT NULL AND s.search_takeaway @@ {_QUERY}
          AND NOT EXISTS (
              SELECT 1 FROM articles_summary newer
               WHERE newer.article_id = s.article_id AND newer.approved_at IS NOT NULL
                 AND newer.version > s.version
          )
   )
 ORDER BY rank DESC, a.published_on_site_at DESC, a.id DESC
 LIMIT %(limit)s OFFSET %(offset)s
"""


def _search_postgres(query: str, limit: int, offset: int) -> list[SearchHit]:
    params = {
        "words": query,
        # A takeaway is one short paragraph: highlight every match and show all of it.
        "headline": f"StartSel={_START}, StopSel={_STOP}, HighlightAll=true",
        "visible": Comment.Status.VISIBLE,
        "published": Article.Status.PUBLISHED,
        "now": timezone.now(),
        "limit": limit,
        "offset": offset,
    }
    with connection.cursor() as cursor:
        cursor.execute(_RANKED, params)
        rows = cursor.fetchall()
    return [
        SearchHit(
            pk=pk,
            slug=slug,
            comment_count=comments,
            title_html=_highlight(title),
            snippet=_highlight(headline or ""),
            rank=rank,
        )
        for pk, slug, title, headline, rank, comments in rows
    ]


def _search_fallback(query: str, limit: int, offset: int) -> list[SearchHit]:
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
        .values_list("pk", "slug", "comment_count", "title", "key_takeaway")[offset : offset + limit]
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
