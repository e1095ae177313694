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
- Tokens are estimated cautiously, as a real tokeniser counts more of them outside English
  (estimate_tokens).
"""

from __future__ import annotations

import math
import re

from django.conf import settings

from articles.models import Article, Summary, Topic

from .base import SourceDocument
from .prompt import story_user_message

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
    budget = max(0, settings.STORY_SUMMARY_INPUT_TOKENS - estimate_tokens(framing))
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


# --- Token estimate -------------------------------------------------------------------
# The budget is a cap, not a bill, so the estimate errs high. Measured against the Claude 2
# and GPT-4 tokenisers (cl100k, o200k) on short news texts, it counts 1.1 to 1.75 times the
# most any of them counts for English, German, French, Polish, Turkish, Russian, Greek,
# Arabic, Hebrew, Hindi, Thai, Japanese, Chinese, Korean and figures, 1.04 for Vietnamese.
# A flat 4 characters a token undercounts German by a fifth, figures by 40 % and Japanese
# five times over.
ASCII_WORD_CHAR = 1 / 3  # English and German words in plain ASCII: about 3 to 5 characters a token
MIXED_WORD_ASCII_CHAR = 1 / 2  # ASCII letters in a word with accents ("poniedziałek") split more
TWO_BYTE_CHAR = 1.5  # accented Latin, Greek, Cyrillic, Hebrew, Arabic: UTF-8 in two bytes
WIDE_CHAR = 2.0  # Japanese, Chinese, Korean, Hindi, Thai: three bytes, often a token or more each
DIGIT = 1.0  # tokenisers split figures into single digits or short groups
PUNCTUATION = 1.0  # ASCII punctuation is mostly a token of its own ("3.482,7" is five tokens)
SPACE = 1 / 3  # a space mostly joins the word after it
ELLIPSIS_TOKENS = 3  # the " …" that marks a cut text
# A run of letters, capped so that a text without spaces (Japanese) is still cut near its
# allowance rather than at the start of a long run.
_PIECE = re.compile(r"[^\W\d_]{1,64}|.", re.DOTALL)


def _piece_tokens(piece: str) -> float:
    if len(piece) > 1 or piece.isalpha():
        if piece.isascii():
            return len(piece) * ASCII_WORD_CHAR
        return sum(_char_tokens(c, ascii_cost=MIXED_WORD_ASCII_CHAR) for c in piece)
    if "0" <= piece <= "9":
        return DIGIT
    if piece.isascii():
        return SPACE if piece.isspace() else PUNCTUATION
    return _char_tokens(piece, ascii_cost=PUNCTUATION)


def _char_tokens(char: str, *, ascii_cost: float) -> float:
    if char.isascii():
        return ascii_cost
    return TWO_BYTE_CHAR if ord(char) < 0x800 else WIDE_CHAR


def estimate_tokens(text: str, *, limit: int | None = None) -> int:
    """A cautious count of the tokens in `text` (see the weights above). With `limit`, the
    count stops once it passes `limit`: no character costs less than a third of a token, so
    no more than 3 × limit characters are read."""
    if limit is not None:
        text = text[: 3 * limit + 3]
    total = 0.0
    for match in _PIECE.finditer(text):
        total += _piece_tokens(match.group())
        if limit is not None and total > limit:
            break
    return math.ceil(total)


def fit_to_budget(texts: list[str], budget_tokens: int) -> list[str]:
    """Cut texts so that together they fit `budget_tokens` (estimated), by water-filling
    (module docstring), each cut at a word boundary where there is one."""
    sizes = [estimate_tokens(text, limit=budget_tokens) for text in texts]
    allowance = [0] * len(texts)
    remaining, left = budget_tokens, len(texts)
    for i in sorted(range(len(texts)), key=lambda i: sizes[i]):
        allowance[i] = min(sizes[i], remaining // left)
        remaining -= allowance[i]
        left -= 1
    return [
        text if size <= limit else _cut(text, limit)
        for text, size, limit in zip(texts, sizes, allowance, strict=True)
    ]


def _cut(text: str, limit_tokens: int) -> str:
    """The longest start of `text` that fits `limit_tokens` with the " …" that marks the cut."""
    room, total, end = limit_tokens - ELLIPSIS_TOKENS, 0.0, 0
    for match in _PIECE.finditer(text):
        total += _piece_tokens(match.group())
        if total > room:
            break
        end = match.end()
    cut = text[:end]
    space = cut.rfind(" ")
    return (cut[:space] if space > end // 2 else cut).rstrip() + " …"


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
