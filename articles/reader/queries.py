"""What the reader site shows: the querysets behind each page, JSON-LD, and the corrections log.

Every page's query count is bounded (tests/articles/test_views_queries.py): cards get their
key takeaway and comment count as annotations, topics by one prefetch, so a page of 20 cards
costs the same as a page of 2. Only published articles (`Article.objects.published()`) ever
leave this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import (
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from django.templatetags.static import static
from django.utils.translation import gettext as _

from articles.models import Article, Story, Summary, Topic
from comments.models import Comment

from . import citations

RELATED_LIMIT = 4
# Related candidates read per place: enough for four stories when a busy story fills the top.
RELATED_CANDIDATES_PER_PLACE = 4
# The original's full text is never shown to readers (copyright, and it is the heaviest column).
READER_DEFERRED = ("extracted_text", "feed_summary", "grouping_lead")


def latest_approved(field: str) -> Subquery:
    return Subquery(
        Summary.objects.approved().filter(article=OuterRef("pk")).order_by("-version").values(field)[:1]
    )


def visible_comment_count() -> Coalesce:
    # A correlated subquery, not Count() over a join: with no GROUP BY, PostgreSQL walks the
    # publication-date index, stops after one page and counts comments for those rows only
    # (4.5 ms -> well under 1 ms for 300 articles), and the paginator's COUNT(*) drops it.
    visible = (
        Comment.objects.filter(article=OuterRef("pk"), status=Comment.Status.VISIBLE)
        .order_by()
        .values("article")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(visible, output_field=IntegerField()), 0)


def published_cards() -> QuerySet[Article]:
    """Published articles ready for a card: source, topics, key takeaway, comment count."""
    return (
        Article.objects.published()
        .defer(*READER_DEFERRED)
        .select_related("source")
        .prefetch_related(Prefetch("topics", queryset=Topic.objects.order_by("name")))
        .annotate(
            key_takeaway=latest_approved("key_takeaway"),
            comment_count=visible_comment_count(),
        )
        .order_by("-published_on_site_at", "-pk")
    )


def article_for_page(slug: str) -> Article | None:
    """One published article with its source, topics and current (latest approved) summary.

    Two queries: the current summary joined to its article and source, then the topics. Only
    an article published without any approved summary needs a third, to load it alone.
    """
    published = Article.objects.published().filter(slug=slug)
    summary = (
        Summary.objects.approved()
        .filter(article__in=published)
        .select_related("article__source", "approved_by")
        .defer(*(f"article__{field}" for field in READER_DEFERRED))
        .order_by("-version")
        .first()
    )
    if summary is not None:
        article = summary.article
    else:
        article = published.defer(*READER_DEFERRED).select_related("source").first()
        if article is None:
            return None
    prefetch_related_objects([article], Prefetch("topics", queryset=Topic.objects.order_by("name")))
    article.summary = summary
    return article


def related_articles(article: Article, *, limit: int = RELATED_LIMIT) -> list[Article]:
    """Up to `limit` published articles sharing a topic, of other stories, most recent first.

    Never an article of this article's own story (its coverage is listed on the page), and
    other stories first: one article per story, then, if places remain, further articles of
    those stories. One query of a few candidates, newest first.
    """
    topic_ids = [topic.pk for topic in article.topics.all()]
    # Straight from the topic link table: one index lookup, not a join of articles to articles.
    sharing_a_topic = Article.topics.through.objects.filter(topic_id__in=topic_ids).values("article_id")
    candidates = (
        Article.objects.published()
        .filter(pk__in=sharing_a_topic)
        .exclude(pk=article.pk)
        .exclude(duplicate_of_id=article.pk)
        .defer(*READER_DEFERRED, "fingerprint", "embedding")
        .select_related("source")
        .annotate(key_takeaway=latest_approved("key_takeaway"))
        .order_by("-published_on_site_at", "-pk")
    )
    if article.story_id is not None:
        candidates = candidates.exclude(story_id=article.story_id)
    seen: set[int] = set()
    first_of_a_story: list[Article] = []
    more_of_a_story: list[Article] = []
    for candidate in candidates[: limit * RELATED_CANDIDATES_PER_PLACE]:
        story = candidate.story_id or -candidate.pk
        (more_of_a_story if story in seen else first_of_a_story).append(candidate)
        seen.add(story)
    chosen = (first_of_a_story + more_of_a_story)[:limit]
    chosen.sort(key=lambda a: (a.published_on_site_at, a.pk), reverse=True)
    return chosen


def absolute_url(path: str) -> str:
    return settings.SITE_URL + path


# The site's own pictures (static/img/), for pages and feeds with none of their own. Sizes are
# the files' real pixel sizes: tests read them back from the PNG headers.
SITE_IMAGE = ("img/og-default.png", 1200, 630)
SITE_LOGO = ("img/logo.png", 512, 512)
# Google shows at most 110 characters of a headline.
HEADLINE_MAX = 110


def site_image(image: tuple[str, int, int] = SITE_IMAGE) -> dict[str, Any]:
    path, width, height = image
    return {"@type": "ImageObject", "url": absolute_url(static(path)), "width": width, "height": height}


def shorten_at_word(text: str, limit: int = HEADLINE_MAX) -> str:
    """`text` in at most `limit` characters: cut at the last whole word, with an ellipsis.

    A single word longer than the limit is cut inside it (there is no boundary to keep).
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    kept = text[: limit - 1]  # one character left for the ellipsis
    if text[limit - 1] != " " and " " in kept:
        kept = kept[: kept.rindex(" ")]
    return kept.rstrip(" ,;:-–—") + "…"


def _organization(name: str, url: str = "") -> dict[str, Any]:
    organization: dict[str, Any] = {"@type": "Organization", "name": name}
    if url:
        organization["url"] = url
    return organization


def _based_on(article: Article, summary: Summary | None) -> dict[str, Any] | list[dict[str, Any]]:
    """What the summary was written from: for a story summary, every numbered source as a
    NewsArticle (its URL, headline and publisher); else the article's own original."""
    if summary is not None and summary.sources:
        return [
            {
                "@type": "NewsArticle",
                "url": source.url,
                "headline": source.title,
                "publisher": _organization(source.name),
            }
            for source in citations.summary_sources(summary, article)
            if source.url
        ]
    publisher = _organization(article.source.name, article.source.site_url)
    return {
        "@type": "CreativeWork",
        "url": article.url,
        "headline": article.title,
        "author": {"@type": "Person", "name": article.author} if article.author else publisher,
        "publisher": publisher,
    }


def _news_article(
    article: Article, summary: Summary | None, *, url: str, headline: str, keywords: bool = True
) -> dict[str, Any]:
    site = _organization(settings.SITE_NAME, settings.SITE_URL)
    news: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": shorten_at_word(headline),
        "url": url,
        "mainEntityOfPage": url,
        "datePublished": article.published_on_site_at.isoformat(),
        "dateModified": (article.corrected_at or article.published_on_site_at).isoformat(),
        "image": [article.lead_image_url] if article.lead_image_url else [site_image()],
        "author": site,
        "publisher": {**site, "logo": site_image(SITE_LOGO)},
        "isBasedOn": _based_on(article, summary),
    }
    if keywords:
        news["keywords"] = [topic.name for topic in article.topics.all()]
    if summary is not None:
        news["description"] = summary.key_takeaway
        news["abstract"] = summary.key_takeaway
        if summary.kind == Summary.Kind.AI:
            news["creator"] = {"@type": "SoftwareApplication", "name": summary.producer}
        elif summary.kind == Summary.Kind.EXTRACTIVE:
            news["creator"] = {"@type": "SoftwareApplication", "name": _("Extractive summarizer")}
        if source_type := citations.digital_source_type(summary):
            news["digitalSourceType"] = source_type
        if summary.approved_by is not None:
            news["editor"] = {"@type": "Person", "name": summary.approved_by.public_name}
    return news


def article_json_ld(article: Article, summary: Summary | None) -> list[dict[str, Any]]:
    """schema.org NewsArticle plus, when the summary has an FAQ, an FAQPage.

    Who wrote what: the page is the site's summary, so its `author` and `publisher` are the
    site; the software that drafted it is the `creator` (an AI model, or the extractive
    summarizer) with its IPTC `digitalSourceType`, and an editor who approved it is the
    `editor`. The reporting it summarises is `isBasedOn`: for a story summary every source it
    was written from; else the original's URL, its reporter (or the source when none is named)
    as `author`, and the source as `publisher`.
    """
    url = absolute_url(article.get_absolute_url())
    graphs = [_news_article(article, summary, url=url, headline=article.title)]
    if summary is not None and summary.faq:
        graphs.append(
            {
                "@context": "https://schema.org",
                "@type": "FAQPage",
                "url": url,
                "mainEntity": [
                    {
                        "@type": "Question",
                        "name": row["question"],
                        "acceptedAnswer": {"@type": "Answer", "text": row["answer"]},
                    }
                    for row in summary.faq
                ],
            }
        )
    return graphs


def story_json_ld(
    story: Story, article: Article, summary: Summary | None, *, url: str
) -> list[dict[str, Any]]:
    """The story page's NewsArticle: the summary that stands for the story under the story's
    title at its canonical address. Its FAQ is marked up on the article page only, so no
    question is marked up twice. No keywords: the page lists no topics (and loads none)."""
    news = _news_article(article, summary, url=url, headline=story.title, keywords=False)
    return [news]


# --- Corrections log ----------------------------------------------------------------------


@dataclass(frozen=True)
class Correction:
    article: Article
    corrected_at: datetime
    version: int
    what_changed: str
    note: str


def describe_changes(before: Summary, after: Summary) -> str:
    """The difference between two summary versions, in plain words for readers."""
    parts: list[str] = []
    if before.key_takeaway.strip() != after.key_takeaway.strip():
        parts.append(_("the key takeaway was rewritten"))
    old_points = {p.get("heading"): p.get("text", "").strip() for p in before.key_points or []}
    for point in after.key_points or []:
        heading = point.get("heading", "")
        if old_points.get(heading) != point.get("text", "").strip():
            parts.append(_("the “%(heading)s” key point was changed") % {"heading": _(heading)})
    old_faq = {row.get("question", "").strip(): row.get("answer", "").strip() for row in before.faq or []}
    new_faq = {row.get("question", "").strip(): row.get("answer", "").strip() for row in after.faq or []}
    added = len(new_faq.keys() - old_faq.keys())
    removed = len(old_faq.keys() - new_faq.keys())
    changed = sum(1 for q in new_faq.keys() & old_faq.keys() if new_faq[q] != old_faq[q])
    if added:
        parts.append(_("%(n)d FAQ question(s) added") % {"n": added})
    if removed:
        parts.append(_("%(n)d FAQ question(s) removed") % {"n": removed})
    if changed:
        parts.append(_("%(n)d FAQ answer(s) corrected") % {"n": changed})
    if not parts:
        return _("The summary was re-approved without changes to its text.")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def corrections(limit: int = 200) -> list[Correction]:
    """Every approved version that replaced an earlier approved one on a published article,
    except a story update (a version with an update line), which readers see as "Updated".

    Two queries whatever the data size: the articles, and their approved versions.
    """
    articles = list(
        Article.objects.published()
        .annotate(approved_count=Count("summaries", filter=Q(summaries__approved_at__isnull=False)))
        .filter(approved_count__gte=2)
        .select_related("source")
        .prefetch_related(
            Prefetch("summaries", queryset=Summary.objects.approved().order_by("version"), to_attr="approved")
        )
        .order_by("-corrected_at", "-published_on_site_at")[:limit]
    )
    log: list[Correction] = []
    for article in articles:
        versions = article.approved
        for before, after in zip(versions, versions[1:], strict=False):
            if after.update_line:
                continue  # an update of the story (new facts, "Updated: …"), not a correction
            log.append(
                Correction(
                    article=article,
                    corrected_at=after.approved_at,
                    version=after.version,
                    what_changed=describe_changes(before, after),
                    note=after.editor_note,
                )
            )
    log.sort(key=lambda c: c.corrected_at, reverse=True)
    return log
