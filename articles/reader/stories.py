"""Stories as readers see them: one card per story on listings and in feeds, the story page,
and the coverage (who else reported it, who was first) on article pages.

The rules, in one place:
- **On the site**: a story is shown once it has an article on the site
  (`Article.objects.published()`); until then it appears nowhere.
- **Coverage**: every article of the story an editor has not rejected, copies included,
  earliest first (`published_at`, the source's own time). Its first article is the first
  report; its distinct sources are the "N sources".
- **The shown article**: the summary that stands for the story (card, feed item, story page)
  is the lead's while the lead is on the site, else the story's earliest article on the site.
- **One address per text**: an article on the site has a page of its own unless it is a copy
  (`duplicate_of`) of another article on the site, whose page is its canonical address.
  A story page is canonical, and listed in the sitemap, only when the story has two or more
  articles with pages of their own; with one, its canonical address is that article's page,
  so the sitemap never lists the same summary twice.
- An article not (yet) placed in a story stands alone: its card is a one-article story with
  no story page.

Query cost is flat in the number of stories: a listing is the page of (story, latest
publication) rows, one query for every member of those stories with source, story, key
takeaway and comment count, and one prefetch of the shown articles' topics.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from articles.models import Article, OpenQuestion, Source, Story, StoryUpdate, Summary, Topic

from .queries import READER_DEFERRED, latest_approved, visible_comment_count

# Columns of a story member readers never need: the original's text and the grouping's data.
MEMBER_DEFERRED = (*READER_DEFERRED, "fingerprint", "embedding", "story__profile", "story__embedding")


def is_on_site(article: Article, now: datetime) -> bool:
    """The Python twin of `Article.objects.published()`, for rows already loaded."""
    published_at = article.published_on_site_at
    return article.status == Article.Status.PUBLISHED and published_at is not None and published_at <= now


class Coverage:
    """One story's reporting as readers are told about it (see the module docstring).

    Each member gets `has_page` (it has a page of its own on this site), `is_copy` and
    `reader_link` (its page here, or else its original URL at the source).
    """

    def __init__(self, story: Story | None, members: list[Article], *, now: datetime) -> None:
        self.story = story
        self.members = members
        on_site = {m.pk for m in members if is_on_site(m, now)}
        for member in members:
            member.is_copy = member.duplicate_of_id is not None
            member.has_page = member.pk in on_site and member.duplicate_of_id not in on_site
            member.reader_link = member.get_absolute_url() if member.has_page else member.url
        self.pages = [m for m in members if m.has_page]
        self.first = members[0] if members else None
        sources: dict[int, Source] = {}
        for member in members:
            sources.setdefault(member.source_id, member.source)
        self.sources = list(sources.values())

    @property
    def source_count(self) -> int:
        return len(self.sources)

    @property
    def has_others(self) -> bool:
        """More than one article: worth a coverage line and a link to the story page."""
        return len(self.members) > 1 and self.story is not None

    @property
    def shown(self) -> Article | None:
        """The article whose summary stands for the story: the lead's while it has a page,
        else the earliest article with a page; None when the story is not on the site."""
        lead_id = self.story.lead_id if self.story is not None else None
        return next((m for m in self.pages if m.pk == lead_id), self.pages[0] if self.pages else None)

    @property
    def canonical_path(self) -> str | None:
        """The story page's canonical path: its one article page when it has exactly one."""
        if len(self.pages) == 1 or self.story is None:
            return self.pages[0].get_absolute_url() if self.pages else None
        return self.story.get_absolute_url()

    def canonical_path_of(self, article: Article) -> str:
        """An article page's canonical path: its original's page when it is a copy of one."""
        original = next((m for m in self.pages if m.pk == article.duplicate_of_id), None)
        return (original or article).get_absolute_url()

    def around(self, article: Article) -> tuple[list[Article], list[Article]]:
        """For `article`'s page: (also covered by, also published by). Copies of `article`
        are "also published by"; every other article of the story is "also covered by"."""
        copies = [m for m in self.members if m.duplicate_of_id == article.pk]
        others = [m for m in self.members if m.pk != article.pk and m.duplicate_of_id != article.pk]
        return others, copies

    def key_parts(self) -> tuple:
        """Everything a story card shows about the story and its coverage, for its cache key."""
        story = self.story
        members = tuple(
            (
                m.pk,
                m.url,
                m.source_id,
                m.source.name,
                m.source.slug,
                m.duplicate_of_id,
                m.has_page,
                m.published_at,
            )
            for m in self.members
        )
        if story is None:
            return (None, members)
        return ((story.pk, story.slug, story.title, story.lead_id, story.updated_at), members)


@dataclass
class StoryCard:
    """A listing's or feed's entry for one story: the shown article (a card row: source,
    key takeaway, comment count, topics) and the story's coverage."""

    coverage: Coverage
    article: Article
    # The story's most recent publication on the site (the listing's order).
    latest: datetime

    @property
    def story(self) -> Story | None:
        return self.coverage.story


def _members(condition: Q, *, for_cards: bool) -> QuerySet[Article]:
    members = (
        Article.objects.filter(condition)
        .exclude(status=Article.Status.REJECTED)
        .defer(*MEMBER_DEFERRED)
        .select_related("source", "story")
        .order_by("published_at", "pk")
    )
    if for_cards:
        members = members.annotate(
            key_takeaway=latest_approved("key_takeaway"),
            update_line=latest_approved("update_line"),
            comment_count=visible_comment_count(),
        )
    return members


def _grouped(members: Iterable[Article]) -> dict[int, list[Article]]:
    """Members by listing key: the story id, or minus the article id for an article in none."""
    groups: dict[int, list[Article]] = defaultdict(list)
    for member in members:
        groups[member.story_id or -member.pk].append(member)
    return groups


def story_listing(
    *,
    topic: Topic | None = None,
    source: Source | None = None,
    articles: QuerySet[Article] | None = None,
) -> QuerySet[Any]:
    """Rows `{"listing_key", "latest"}`, one per story on the site, most recent publication first.

    On a topic or source page: the stories with an article on the site in that topic or from
    that source, ordered by those articles. `articles` narrows the published articles further
    (the JSON API's date filters). One GROUP BY over the published articles, so the
    paginator's count is of stories, not articles. `story_cards()` turns a page of rows into cards.
    """
    articles = (articles if articles is not None else Article.objects.all()) & Article.objects.published()
    if topic is not None:
        articles = articles.filter(topics=topic)
    if source is not None:
        articles = articles.filter(source=source)
    return (
        articles.annotate(listing_key=Coalesce("story_id", -F("pk"), output_field=BigIntegerField()))
        .values("listing_key")
        .annotate(latest=Max("published_on_site_at"))
        .order_by("-latest", "-listing_key")
    )


def story_cards(rows: Iterable[dict[str, Any]]) -> list[StoryCard]:
    """Cards for listing rows, in their order: two queries whatever their number."""
    rows = list(rows)
    keys = [row["listing_key"] for row in rows]
    story_ids = [key for key in keys if key > 0]
    lone_ids = [-key for key in keys if key < 0]
    if not rows:
        return []
    groups = _grouped(_members(Q(story_id__in=story_ids) | Q(pk__in=lone_ids), for_cards=True))
    now = timezone.now()
    cards: list[StoryCard] = []
    for row in rows:
        members = groups.get(row["listing_key"], [])
        coverage = Coverage(members[0].story if members else None, members, now=now)
        shown = coverage.shown
        if shown is not None:  # None only if it left the site between the two queries
            cards.append(StoryCard(coverage=coverage, article=shown, latest=row["latest"]))
    prefetch_related_objects(
        [card.article for card in cards], Prefetch("topics", queryset=Topic.objects.order_by("name"))
    )
    return cards


def latest_story_cards(limit: int, *, topic: Topic | None = None) -> list[StoryCard]:
    """The `limit` most recently published stories (feeds): three queries."""
    return story_cards(story_listing(topic=topic)[:limit])


def coverage_of(article: Article) -> Coverage:
    """The coverage of a published article's story, for its page: one query."""
    if article.story_id is None:
        return Coverage(None, [article], now=timezone.now())
    members = list(_members(Q(story_id=article.story_id), for_cards=False))
    story = members[0].story if members else None
    return Coverage(story, members or [article], now=timezone.now())


@dataclass
class StoryPage:
    coverage: Coverage
    article: Article
    summary: Summary | None

    @property
    def story(self) -> Story:
        assert self.coverage.story is not None
        return self.coverage.story


def story_for_page(slug: str) -> StoryPage | None:
    """A story on the site with its coverage, shown article and that article's current
    summary: two queries. None when no story has that slug or none of its articles is on
    the site."""
    members = list(_members(Q(story__slug=slug), for_cards=False))
    if not members:
        return None
    coverage = Coverage(members[0].story, members, now=timezone.now())
    shown = coverage.shown
    if shown is None:
        return None
    summary = (
        Summary.objects.approved()
        .filter(article=shown)
        .select_related("approved_by")
        .order_by("-version")
        .first()
    )
    return StoryPage(coverage=coverage, article=shown, summary=summary)


# The newest developments a page lists, so a long-running story's page stays a readable size.
TIMELINE_LIMIT = 50


@dataclass(frozen=True)
class Link:
    """Another story, as a follow-up line names it: the question answered, its title and page."""

    question: str
    title: str
    slug: str

    @property
    def path(self) -> str:
        return reverse("story", args=[self.slug])


@dataclass(frozen=True)
class Developments:
    """A story's life after its first summary: the timeline of dated developments (newest
    first), the later stories that answered its "What to watch" questions (`follow_ups`), and
    the earlier stories whose questions it answered (`follows_up`)."""

    timeline: list[StoryUpdate]
    follow_ups: list[Link]
    follows_up: list[Link]


def _on_site(story: str) -> Exists:
    """The question's `story` (or the story it was merged into) has an article on the site."""
    target = Coalesce(OuterRef(f"{story}__merged_into_id"), OuterRef(f"{story}_id"))
    return Exists(Article.objects.published().filter(story_id=target))


def developments(story: Story) -> Developments:
    """`story`'s timeline and follow-ups: two queries.

    A follow-up is an open question an editor accepted, linking the question's story and the
    story that answered it; each side shows it once the other side is on the site. A story
    merged into another stands for that story (its page redirects there), and a question
    answered within its own story links nowhere.
    """
    timeline = list(
        StoryUpdate.objects.filter(story=story)
        .only("happened_at", "text")
        .order_by("-happened_at", "-pk")[:TIMELINE_LIMIT]
    )
    ends = ("story", "answer_story")
    fields = [f"{end}{suffix}" for end in ends for suffix in ("_id", "__slug", "__title", "__merged_into_id")]
    fields += [f"{end}__merged_into__{name}" for end in ends for name in ("slug", "title")]
    rows = (
        OpenQuestion.objects.filter(status=OpenQuestion.Status.ACCEPTED, answer_story__isnull=False)
        .filter(
            Q(story=story)
            | Q(story__merged_into=story)
            | Q(answer_story=story)
            | Q(answer_story__merged_into=story)
        )
        .annotate(story_on_site=_on_site("story"), answer_on_site=_on_site("answer_story"))
        .order_by("-status_changed_at", "-pk")
        .values("text", "story_on_site", "answer_on_site", *fields)
    )
    follow_ups: list[Link] = []
    follows_up: list[Link] = []

    def end(row: dict[str, Any], name: str) -> tuple[int, Link]:
        merged = row[f"{name}__merged_into_id"] is not None
        prefix = f"{name}__merged_into__" if merged else f"{name}__"
        slug, title = row[prefix + "slug"], row[prefix + "title"]
        target = row[f"{name}__merged_into_id"] if merged else row[f"{name}_id"]
        return target, Link(question=row["text"], title=title, slug=slug)

    for row in rows:
        asked_in, asked = end(row, "story")
        answered_in, answer = end(row, "answer_story")
        if asked_in == answered_in:
            continue
        if asked_in == story.pk and row["answer_on_site"]:
            follow_ups.append(answer)
        elif answered_in == story.pk and row["story_on_site"]:
            follows_up.append(asked)
    return Developments(timeline=timeline, follow_ups=follow_ups, follows_up=follows_up)


def developments_on_page(article: Article, coverage: Coverage) -> Developments | None:
    """On an article page, the story's developments when the article's summary is the one that
    stands for its story (for a story of one page, that page is the only one readers reach);
    None otherwise."""
    shown = coverage.shown
    if coverage.story is None or shown is None or shown.pk != article.pk:
        return None
    return developments(coverage.story)


def articles_with_own_page() -> QuerySet[Article]:
    """Published articles with a page of their own: not copies of another article on the site."""
    return Article.objects.published().exclude(duplicate_of__in=Article.objects.published())


def stories_with_own_page() -> QuerySet[Any]:
    """Rows `{"story__slug", "lastmod"}` of the stories whose page is its own canonical
    address: two or more articles with pages of their own. `lastmod` is the latest
    publication or correction among them. One GROUP BY over the published articles."""
    return (
        articles_with_own_page()
        .filter(story__isnull=False)
        .values("story_id", "story__slug")
        .annotate(pages=Count("pk"), lastmod=Max(Coalesce("corrected_at", "published_on_site_at")))
        .filter(pages__gte=2)
        .order_by("-lastmod", "-story_id")
    )
