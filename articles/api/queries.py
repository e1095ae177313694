"""The JSON API's reads: thin layers over the reader's own queries, so the API shows exactly
what the site shows (articles/reader/stories.py states the rules: which article stands for a
story, its coverage, canonical addresses).

Every list is keyset-paginated (cursors.py) and costs a fixed number of queries whatever its
length (tests/articles/api/test_queries.py): stories three, articles two.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import (
    Max,
    Prefetch,
    Q,
    QuerySet,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce, Greatest

from articles.models import Article, Source, Story, Topic
from articles.reader import queries as reader
from articles.reader import stories
from articles.reader.search import search_articles

from .cursors import Position


@dataclass(frozen=True)
class Filters:
    """What a list is narrowed to. Times are aware (UTC); slugs that match nothing give an
    empty list."""

    topic: str | None = None
    source: str | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None
    updated_since: datetime | None = None

    def articles(self) -> QuerySet[Article]:
        """The articles on the site these filters keep (updated_since aside, which each list
        applies to what it lists)."""
        articles = Article.objects.published()
        if self.topic:
            articles = articles.filter(topics__slug=self.topic)
        if self.source:
            articles = articles.filter(source__slug=self.source)
        if self.published_after:
            articles = articles.filter(published_on_site_at__gte=self.published_after)
        if self.published_before:
            articles = articles.filter(published_on_site_at__lt=self.published_before)
        return articles


@dataclass
class Page:
    items: list[Any]
    next: Position | None


def _topics() -> Prefetch:
    return Prefetch("topics", queryset=Topic.objects.order_by("name"))


# --- Stories ----------------------------------------------------------------------------------


def story_page(*, filters: Filters, after: Position | None, limit: int) -> Page:
    """Stories on the site, most recent publication first, `limit` at a time: three queries.

    The rows come from the reader's listing (one GROUP BY over the articles the filters keep),
    the cards from `story_cards`. Only articles placed in a story are listed here; `updated_since`
    keeps stories with a publication or correction among those articles, or a coverage change,
    at or after that time.
    """
    listing = stories.story_listing(articles=filters.articles().filter(story__isnull=False))
    if filters.updated_since:
        last_change = Max(Coalesce("corrected_at", "published_on_site_at"))
        listing = listing.annotate(
            updated=Greatest(last_change, Coalesce(Max("story__updated_at"), last_change))
        ).filter(updated__gte=filters.updated_since)
    if after is not None:
        listing = listing.filter(Q(latest__lt=after.at) | Q(latest=after.at, listing_key__lt=after.key))
    rows = list(listing[: limit + 1])
    cards = stories.story_cards(rows[:limit])
    last = rows[limit - 1] if len(rows) > limit else None
    return Page(
        items=cards, next=Position(at=last["latest"], key=last["listing_key"]) if last is not None else None
    )


def story_detail(slug: str) -> stories.StoryPage | None:
    """A story on the site with its coverage, shown article and its current summary: three
    queries (story_developments adds its timeline and follow-ups: two more)."""
    page = stories.story_for_page(slug)
    if page is not None:
        prefetch_related_objects([page.article], _topics())
    return page


def story_developments(story: Story) -> stories.Developments:
    """The story's timeline and follow-ups, as its page shows them: two queries."""
    return stories.developments(story)


def merged_story_target(slug: str) -> Story | None:
    """The story an editor merged the story `slug` into, if that is what became of it."""
    merged = Story.objects.filter(slug=slug, merged_into__isnull=False).select_related("merged_into").first()
    return merged.merged_into if merged is not None else None


# --- Articles ---------------------------------------------------------------------------------


def article_page(*, filters: Filters, after: Position | None, limit: int) -> Page:
    """Articles with a page of their own (a copy is listed under its original's
    `also_published_by`), most recently published first, `limit` at a time: two queries."""
    articles = (
        (filters.articles() & stories.articles_with_own_page())
        .defer(*stories.MEMBER_DEFERRED)
        .select_related("source", "story")
        .annotate(key_takeaway=reader.latest_approved("key_takeaway"))
        .order_by("-published_on_site_at", "-pk")
    )
    if filters.updated_since:
        articles = articles.filter(
            Q(published_on_site_at__gte=filters.updated_since) | Q(corrected_at__gte=filters.updated_since)
        )
    if after is not None:
        articles = articles.filter(
            Q(published_on_site_at__lt=after.at) | Q(published_on_site_at=after.at, pk__lt=after.key)
        )
    rows = list(articles[: limit + 1])
    items = rows[:limit]
    prefetch_related_objects(items, _topics())
    last = items[-1] if len(rows) > limit else None
    return Page(items=items, next=Position(at=last.published_on_site_at, key=last.pk) if last else None)


@dataclass
class ArticleDetail:
    article: Article
    coverage: stories.Coverage

    @property
    def copies(self) -> list[Article]:
        return self.coverage.around(self.article)[1]


def article_detail(slug: str) -> ArticleDetail | None:
    """One article on the site with its current summary, topics, story and coverage: three
    queries (four for an article published without any approved summary)."""
    article = reader.article_for_page(slug)
    if article is None:
        return None
    coverage = stories.coverage_of(article)
    return ArticleDetail(article=article, coverage=coverage)


# --- The rest ---------------------------------------------------------------------------------


def topic_list() -> list[Topic]:
    return list(Topic.objects.order_by("name"))


def source_list() -> list[Source]:
    """Sources with at least one article on the site: one query."""
    with_articles = Article.objects.published().values("source_id")
    return list(
        Source.objects.filter(pk__in=with_articles)
        .only("pk", "slug", "name", "site_url", "language")
        .order_by("name", "pk")
    )


def search(query: str, *, limit: int) -> list[Article]:
    """The reader's search (articles/reader/search.py), each result with its story: three or
    four queries."""
    results = search_articles(query=query, limit=limit)
    prefetch_related_objects(results, Prefetch("story", queryset=Story.objects.defer("profile", "embedding")))
    return results


def correction_log(*, limit: int) -> list[reader.Correction]:
    return reader.corrections(limit=limit)
