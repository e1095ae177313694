"""What the JSON API answers: one Pydantic schema per shape (the OpenAPI document is generated
from these), and the functions that fill them from rows the reader's queries loaded.

Only what a reader of the site can already see leaves here: published articles and their
current approved summary, a story's coverage as its page shows it, topics, the public face of
a source. Never an unapproved or replaced summary version, a status, a grounding score, a cost,
a moderation decision, a user (not even an editor's name) or the original's extracted text.
Every field is listed explicitly: a new model column never appears in the API by accident.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.urls import reverse
from ninja import Field, Schema

from articles.models import Article, Source, Story, Summary, Topic
from articles.reader import citations
from articles.reader.queries import Correction, absolute_url
from articles.reader.stories import Coverage, Developments, Link

# --- Shapes ---------------------------------------------------------------------------------


class Error(Schema):
    error: str = Field(
        description="A stable code: invalid_request, invalid_cursor, not_found, rate_limited, …"
    )
    message: str = Field(description="What went wrong, in words for the developer reading it.")
    detail: list[dict[str, Any]] | None = Field(
        None, description="Per-parameter problems, when there are any."
    )


class SourceRef(Schema):
    id: int
    slug: str
    name: str


class SourceOut(SourceRef):
    site_url: str = Field(description="The source's own website.")
    language: str = Field(description="The feed's language code, or empty when it names none.")
    url: str = Field(description="The source's page on this site.")


class TopicOut(Schema):
    slug: str
    name: str
    description: str
    url: str = Field(description="The topic's page on this site.")


class TopicRef(Schema):
    slug: str
    name: str


class ArticleRef(Schema):
    id: int
    slug: str
    title: str
    url: str = Field(description="The summary's page on this site.")
    api_url: str
    source: SourceRef


class StoryRef(Schema):
    id: int
    slug: str
    title: str
    api_url: str


class SummarySource(Schema):
    """One document a summary was written from, numbered as its citations name it."""

    n: int = Field(description="The number citations and disagreements use for this source.")
    source: str = Field(description="The source's name.")
    url: str = Field(description="The original report at its source.")
    title: str = Field(description="The original report's title.")


class Citation(Schema):
    source: int = Field(description="The `n` of the source in the summary's `sources`.")
    quote: str = Field(description="Words from that source, found in its text word for word.")


class StoryLink(Schema):
    title: str
    url: str = Field(description="The story's page on this site.")
    api_url: str


class KeyPoint(Schema):
    heading: str = Field(description="What happened, Why it matters or What to watch.")
    text: str
    evidence: list[str] = Field(
        description="Quotes that support the point (a summary of one article: from that article)."
    )
    citations: list[Citation] = Field(
        description="The sources that back the point, each with a verified quote; empty for a "
        "summary of one article."
    )
    single_source: bool = Field(description="Only one source backs the point.")


class FaqEntry(Schema):
    question: str
    answer: str
    evidence: list[str] = Field(
        description="Quotes that support the answer (a summary of one article: from that article)."
    )
    citations: list[Citation] = Field(
        description="The sources that back the answer, each with a verified quote; empty for a "
        "summary of one article."
    )
    single_source: bool = Field(description="Only one source backs the answer.")


class Claim(Schema):
    source: int = Field(description="The `n` of the source in the summary's `sources`.")
    says: str


class Disagreement(Schema):
    fact: str = Field(description="What the sources report differently: a number, date or name.")
    claims: list[Claim] = Field(description="What each source says about it.")


class SummaryOut(Schema):
    version: int = Field(description="The approved version shown; a correction publishes a higher one.")
    kind: Literal["ai", "extractive", "editor"] = Field(
        description="ai: drafted by a language model; extractive: sentences selected from the "
        "original, no model; editor: written by an editor."
    )
    model: str | None = Field(description="The language model that drafted an `ai` summary.")
    reviewed_by_editor: bool = Field(
        description="An editor approved it (false: published automatically from a trusted source)."
    )
    ai_label: str = Field(
        description="The label readers see above the summary, e.g. `AI-generated summary, reviewed by an editor`."
    )
    digital_source_type: str | None = Field(
        description="How the text was made, as an IPTC Digital Source Type URI (also in the page's "
        "JSON-LD `digitalSourceType`); null for an editor's own text."
    )
    approved_at: datetime
    update_line: str | None = Field(
        description="What this version added to the story, in one line (readers see "
        "`Updated <approved_at>: <update_line>`); null for a first version or a correction."
    )
    key_takeaway: str
    key_points: list[KeyPoint]
    faq: list[FaqEntry]
    sources: list[SummarySource] = Field(
        description="The documents the summary was written from; a summary of one article has "
        "that article as its one source."
    )
    checked_sources: int = Field(description="How many distinct sources its quotes were checked against.")
    disagreements: list[Disagreement] = Field(description="Facts the sources report differently.")


class ArticleItem(Schema):
    id: int
    slug: str
    title: str
    url: str = Field(description="The summary's page on this site.")
    api_url: str
    original_url: str = Field(description="The original article at its source.")
    source: SourceRef
    author: str = Field(description="The original's author as its feed names them, or empty.")
    language: str
    lead_image_url: str | None
    read_time_minutes: int = Field(description="Minutes to read the original.")
    reported_at: datetime = Field(description="When the source published the original.")
    published_at: datetime = Field(description="When the summary was published on this site.")
    corrected_at: datetime | None = Field(description="The latest correction of the summary, if any.")
    updated_at: datetime = Field(description="The latest of published_at and corrected_at.")
    topics: list[TopicRef]
    story: StoryRef | None
    key_takeaway: str | None = Field(description="The current summary's key takeaway.")


class Copy(Schema):
    """The same text published at another address (\"also published by\")."""

    source: SourceRef
    original_url: str
    reported_at: datetime


class ArticleOut(ArticleItem):
    canonical_url: str = Field(
        description="The one address of this text on the site: for a republished copy, its original's page."
    )
    summary: SummaryOut | None = Field(description="The current approved summary, with its evidence.")
    also_published_by: list[Copy]


class ArticleList(Schema):
    items: list[ArticleItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    next_url: str | None


class CoverageItem(Schema):
    title: str
    source: SourceRef
    original_url: str
    reported_at: datetime
    first_report: bool = Field(description="The story's earliest report.")
    copy_of: int | None = Field(description="For a copy: the id of the article whose text it republishes.")
    article: ArticleRef | None = Field(description="Its summary on this site, when it has a page of its own.")


class StoryItem(Schema):
    id: int
    slug: str
    title: str
    url: str = Field(
        description="The story's canonical page: the story page, or its one summary's page when it has one."
    )
    api_url: str
    first_reported_at: datetime
    latest_published_at: datetime = Field(description="The story's most recent publication on this site.")
    updated_at: datetime = Field(description="The latest publication, correction or coverage change.")
    source_count: int
    article_count: int
    shown: ArticleItem = Field(description="The article whose summary stands for the story.")


class TimelineEntry(Schema):
    happened_at: datetime
    text: str = Field(description="What developed, in one line.")


class FollowUp(Schema):
    question: str = Field(description="The What to watch point that was answered.")
    story: StoryLink = Field(description="The other story.")


class StoryOut(StoryItem):
    summary: SummaryOut | None = Field(description="The shown article's current summary.")
    sources: list[SourceRef] = Field(description="Every source in the story's coverage.")
    coverage: list[CoverageItem] = Field(
        description="Every report of the story, earliest first, copies included."
    )
    timeline: list[TimelineEntry] = Field(
        description="The story's dated developments, newest first (at most the latest 50)."
    )
    follow_ups: list[FollowUp] = Field(
        description="Later stories an editor confirmed answer one of this story's What to watch points."
    )
    follows_up: list[FollowUp] = Field(
        description="Earlier stories whose What to watch points this story answers."
    )


class StoryList(Schema):
    items: list[StoryItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    next_url: str | None


class SearchResult(ArticleItem):
    snippet_html: str = Field(
        description="The key takeaway with the matched words in <mark>; all other text is HTML-escaped."
    )


class SearchResults(Schema):
    query: str = Field(description="The words searched for, as normalised.")
    items: list[SearchResult]


class CorrectionOut(Schema):
    article: ArticleRef
    corrected_at: datetime
    version: int
    what_changed: str
    editor_note: str


class CorrectionLog(Schema):
    items: list[CorrectionOut]


# --- Filling them ---------------------------------------------------------------------------


def api_path(name: str, *args: object) -> str:
    return reverse(f"api-v1:{name}", args=args)


def source_ref(source: Source) -> dict[str, Any]:
    return {"id": source.pk, "slug": source.slug, "name": source.name}


def source_out(source: Source) -> dict[str, Any]:
    return {
        **source_ref(source),
        "site_url": source.site_url,
        "language": source.language,
        "url": absolute_url(source.get_absolute_url()),
    }


def topic_out(topic: Topic) -> dict[str, Any]:
    return {
        "slug": topic.slug,
        "name": topic.name,
        "description": topic.description,
        "url": absolute_url(topic.get_absolute_url()),
    }


def article_ref(article: Article) -> dict[str, Any]:
    return {
        "id": article.pk,
        "slug": article.slug,
        "title": article.title,
        "url": absolute_url(article.get_absolute_url()),
        "api_url": absolute_url(api_path("article", article.slug)),
        "source": source_ref(article.source),
    }


def story_ref(story: Story | None) -> dict[str, Any] | None:
    if story is None:
        return None
    return {
        "id": story.pk,
        "slug": story.slug,
        "title": story.title,
        "api_url": absolute_url(api_path("story", story.slug)),
    }


def _backing(backing: citations.Backing) -> dict[str, Any]:
    return {
        "citations": [{"source": q.source.n, "quote": q.text} for q in backing.quotes],
        "single_source": backing.single_source,
    }


def summary_out(summary: Summary | None, article: Article) -> dict[str, Any] | None:
    """`summary` (the current version of `article`) as readers see it: only verified citations,
    never the unverified facts the desk sees."""
    cited = citations.cited(summary, article)
    if summary is None or cited is None:
        return None
    return {
        "version": summary.version,
        "kind": summary.kind,
        "model": summary.producer if summary.kind == Summary.Kind.AI else None,
        "reviewed_by_editor": cited.editor_reviewed,
        "ai_label": cited.ai_label,
        "digital_source_type": citations.digital_source_type(summary),
        "approved_at": summary.approved_at,
        "update_line": summary.update_line or None,
        "key_takeaway": summary.key_takeaway,
        "key_points": [
            {"heading": p.heading, "text": p.text, "evidence": p.evidence, **_backing(p.backing)}
            for p in cited.key_points
        ],
        "faq": [
            {"question": a.question, "answer": a.answer, "evidence": a.evidence, **_backing(a.backing)}
            for a in cited.faq
        ],
        "sources": [{"n": s.n, "source": s.name, "url": s.url, "title": s.title} for s in cited.sources],
        "checked_sources": cited.checked_sources,
        "disagreements": [
            {"fact": d.fact, "claims": [{"source": c.source.n, "says": c.says} for c in d.claims]}
            for d in cited.disagreements
        ],
    }


def story_link(path: str, title: str, slug: str) -> dict[str, Any]:
    return {"title": title, "url": absolute_url(path), "api_url": absolute_url(api_path("story", slug))}


def developments_out(developments: Developments) -> dict[str, Any]:
    """A story's timeline and follow-ups (articles/reader/stories.py: developments)."""

    def follow_up(link: Link) -> dict[str, Any]:
        return {"question": link.question, "story": story_link(link.path, link.title, link.slug)}

    return {
        "timeline": [{"happened_at": u.happened_at, "text": u.text} for u in developments.timeline],
        "follow_ups": [follow_up(link) for link in developments.follow_ups],
        "follows_up": [follow_up(link) for link in developments.follows_up],
    }


def article_item(
    article: Article, *, key_takeaway: str | None = None, story: Story | None = None
) -> dict[str, Any]:
    """An article on the site. Its topics must be prefetched; its story is `story` when given,
    else `article.story` (select_related or prefetched by the caller)."""
    published = article.published_on_site_at
    return {
        "id": article.pk,
        "slug": article.slug,
        "title": article.title,
        "url": absolute_url(article.get_absolute_url()),
        "api_url": absolute_url(api_path("article", article.slug)),
        "original_url": article.url,
        "source": source_ref(article.source),
        "author": article.author,
        "language": article.language,
        "lead_image_url": article.lead_image_url or None,
        "read_time_minutes": article.read_time,
        "reported_at": article.published_at,
        "published_at": published,
        "corrected_at": article.corrected_at,
        "updated_at": max(published, article.corrected_at or published),
        "topics": [{"slug": t.slug, "name": t.name} for t in article.topics.all()],
        "story": story_ref(story if story is not None else (article.story if article.story_id else None)),
        "key_takeaway": key_takeaway if key_takeaway is not None else getattr(article, "key_takeaway", None),
    }


def coverage_items(coverage: Coverage) -> list[dict[str, Any]]:
    first = coverage.first
    return [
        {
            "title": member.title,
            "source": source_ref(member.source),
            "original_url": member.url,
            "reported_at": member.published_at,
            "first_report": member is first,
            "copy_of": member.duplicate_of_id,
            "article": article_ref(member) if member.has_page else None,
        }
        for member in coverage.members
    ]


def story_updated_at(coverage: Coverage) -> datetime:
    """The latest publication or correction among the story's pages, or the latest change to
    its coverage (grouping or an editor placing an article), whichever is later."""
    moments = [max(m.published_on_site_at, m.corrected_at or m.published_on_site_at) for m in coverage.pages]
    if coverage.story is not None:
        moments.append(coverage.story.updated_at)
    return max(moments)


def story_item(coverage: Coverage, shown: Article, *, key_takeaway: str | None) -> dict[str, Any]:
    story = coverage.story
    assert story is not None and coverage.first is not None
    return {
        "id": story.pk,
        "slug": story.slug,
        "title": story.title,
        "url": absolute_url(coverage.canonical_path or story.get_absolute_url()),
        "api_url": absolute_url(api_path("story", story.slug)),
        "first_reported_at": coverage.first.published_at,
        "latest_published_at": max(m.published_on_site_at for m in coverage.pages),
        "updated_at": story_updated_at(coverage),
        "source_count": coverage.source_count,
        "article_count": len(coverage.members),
        "shown": article_item(shown, key_takeaway=key_takeaway, story=story),
    }


def correction_out(correction: Correction) -> dict[str, Any]:
    return {
        "article": article_ref(correction.article),
        "corrected_at": correction.corrected_at,
        "version": correction.version,
        "what_changed": correction.what_changed,
        "editor_note": correction.note,
    }
