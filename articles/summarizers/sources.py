"""What a story summary is written from: the story's distinct articles, one per source, cut
to a token budget (docs/summaries.md, "Story summaries").

- The article being summarised (the story's lead) is source 1; the others follow by
  publication time. Copies never count: a syndicated text at five URLs is one source, not
  five confirmations. An article an editor rejected, one still `new`, and one whose text is
  too thin to quote (STORY_SUMMARY_MIN_WORDS) are left out, except the lead.
- At most STORY_SUMMARY_MAX_SOURCES sources, one article per publication.
- The story message (texts, fences, headers, topic list and current summary) fits
  STORY_SUMMARY_INPUT_TOKENS; the texts share what the rest leaves by water-filling: a
  short source keeps all of its text and leaves the rest to the others; no source takes
  more than an equal share of what is left, so one long feature cannot crowd out the wire
  reports.
"""

from __future__ import annotations

from django.conf import settings

from articles.models import Article, Summary, Topic

from .base import SourceDocument
from .prompt import story_user_message

# A rough but safe size for English news text; the budget is a cap, not a bill.
CHARS_PER_TOKEN = 4
EXCLUDED = (Article.Status.NEW, Article.Status.REJECTED)


def story_members(article: Article) -> list[Article]:
    """The articles a summary of `article`'s story may cite, lead first (see module docstring)."""
    if not settings.STORY_SUMMARIES or article.story_id is None:
        return [article]
    candidates = (
        Article.objects.filter(story_id=article.story_id, duplicate_of__isnull=True)
        .exclude(pk=article.pk)
        .exclude(status__in=EXCLUDED)
        .select_related("source")
        .order_by("published_at", "pk")
    )
    members, seen_sources = [article], {article.source_id}
    for other in candidates:
        if len(members) >= settings.STORY_SUMMARY_MAX_SOURCES:
            break
        if other.source_id in seen_sources or other.word_count < settings.STORY_SUMMARY_MIN_WORDS:
            continue
        seen_sources.add(other.source_id)
        members.append(other)
    return members


def story_documents(article: Article) -> list[SourceDocument]:
    """The numbered documents of a story summary, or [] when the story has no other source
    to cite (the article is then summarised alone, as before stories).

    The budget covers the whole story message: the fences and headers of every source, the
    topic list and the current summary are measured first, and the texts share the rest."""
    members = story_members(article)
    if len(members) < 2:
        return []
    empty = [_document(n, m, "") for n, m in enumerate(members, start=1)]
    framing = story_user_message(
        documents=empty,
        topics=list(Topic.objects.values_list("name", flat=True)),
        current_summary=summary_as_text(article.current_summary or article.latest_summary),
    )
    budget = max(0, settings.STORY_SUMMARY_INPUT_TOKENS * CHARS_PER_TOKEN - len(framing))
    texts = fit_to_budget([m.extracted_text for m in members], budget)
    return [_document(n, m, text) for n, (m, text) in enumerate(zip(members, texts, strict=True), start=1)]


def _document(n: int, article: Article, text: str) -> SourceDocument:
    return SourceDocument(
        n=n,
        source=article.source.name,
        title=article.title,
        text=text,
        url=article.url,
        article_id=article.pk,
    )


def fit_to_budget(texts: list[str], budget_chars: int) -> list[str]:
    """Cut texts so that together they fit `budget_chars`, by water-filling (module docstring),
    each cut at a word boundary."""
    allowance = [0] * len(texts)
    remaining, left = budget_chars, len(texts)
    for i in sorted(range(len(texts)), key=lambda i: len(texts[i])):
        allowance[i] = min(len(texts[i]), remaining // left)
        remaining -= allowance[i]
        left -= 1
    return [_cut(text, limit) for text, limit in zip(texts, allowance, strict=True)]


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + " …"


def summary_as_text(summary: Summary | None) -> str:
    """A summary as the plain text the model reads under "Current summary:"."""
    if summary is None:
        return ""
    lines = [summary.key_takeaway]
    lines += [f"{p.get('heading')}: {p.get('text')}" for p in summary.key_points]
    lines += [f"Q: {q.get('question')} A: {q.get('answer')}" for q in summary.faq]
    return "\n".join(lines)


def sources_field(documents: list[SourceDocument]) -> list[dict]:
    """Summary.sources for a story summary: who source n was."""
    return [
        {"n": d.n, "article_id": d.article_id, "source": d.source, "url": d.url, "title": d.title}
        for d in documents
    ]
