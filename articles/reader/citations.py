"""What readers see of a summary's grounding: its sources, the citations behind each key point
and FAQ answer, where the sources disagree, and the AI label.

A story summary (`Summary.sources` set) numbers the documents the model saw; each key point
and FAQ row cites them (`"citations": [{"source": n, "quote", "verified"}]`). Readers see only
**verified** citations: the source names (linking to the originals) and, on demand, the
quotes. A citation the grounding check could not find in its source stays on the desk, as do
`unverified_facts`. A summary written from its own article alone (no `sources`) counts as one
source, the article itself, and shows no per-point citations; its evidence quotes stay in the
JSON API as before.

The same view feeds the pages (templates/articles/_summary.html), the JSON-LD
(queries.py) and the JSON API (articles/api/schemas.py), so all three say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from articles.models import Article, Summary

# The IPTC Digital Source Type vocabulary (http://cv.iptc.org/newscodes/digitalsourcetype/),
# the codes schema.org's digitalSourceType is defined by (docs/reader.md says why these two).
IPTC_DIGITAL_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
DIGITAL_SOURCE_TYPE = {
    # Text written by a generative model, reviewed or not: review does not change how it was made.
    Summary.Kind.AI: IPTC_DIGITAL_SOURCE + "trainedAlgorithmicMedia",
    # Sentences chosen from the original by a fixed algorithm, no trained model.
    Summary.Kind.EXTRACTIVE: IPTC_DIGITAL_SOURCE + "algorithmicMedia",
}


def _safe_url(url: Any) -> str:
    """An http(s) URL to link to, or "" (a javascript: or data: URL is never a link)."""
    url = str(url or "")
    return url if urlsplit(url).scheme.lower() in ("http", "https") else ""


@dataclass(frozen=True)
class CitedSource:
    """One numbered document the summary was written from."""

    n: int
    name: str
    url: str
    title: str


@dataclass(frozen=True)
class Quote:
    source: CitedSource
    text: str


@dataclass(frozen=True)
class Backing:
    """What backs one key point or FAQ answer: its sources (each once, in citation order),
    their verified quotes, and whether only one source backs it."""

    sources: list[CitedSource] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    single_source: bool = False


@dataclass(frozen=True)
class CitedPoint:
    heading: str
    text: str
    backing: Backing
    # The quotes of a summary of one article (no per-source citations): the API keeps them.
    evidence: list[str]


@dataclass(frozen=True)
class CitedAnswer:
    question: str
    answer: str
    backing: Backing
    evidence: list[str]


@dataclass(frozen=True)
class Claim:
    source: CitedSource
    says: str


@dataclass(frozen=True)
class Disagreement:
    fact: str
    claims: list[Claim]


@dataclass(frozen=True)
class CitedSummary:
    summary: Summary
    sources: list[CitedSource]
    key_points: list[CitedPoint]
    faq: list[CitedAnswer]
    disagreements: list[Disagreement]

    @property
    def checked_sources(self) -> int:
        return self.summary.checked_sources

    @property
    def editor_reviewed(self) -> bool:
        return editor_reviewed(self.summary)

    @property
    def ai_label(self) -> str:
        return ai_label(self.summary)

    @property
    def is_update(self) -> bool:
        """This version updates the story (new facts), as opposed to correcting it."""
        return bool(self.summary.update_line)


def editor_reviewed(summary: Summary) -> bool:
    """An editor approved this version or wrote it. `Article.publish` records the approving
    editor in `approved_by` (for a scheduled publication, the editor who scheduled that
    version); the auto-publish rule leaves it empty."""
    return summary.approved_by_id is not None or summary.kind == Summary.Kind.EDITOR


def ai_label(summary: Summary) -> str:
    """The label readers see above the summary, and the API's `ai_label`."""
    if summary.kind == Summary.Kind.EDITOR:
        return _("Summary written by an editor")
    if summary.kind == Summary.Kind.AI:
        if editor_reviewed(summary):
            return _("AI-generated summary, reviewed by an editor")
        return _("AI-generated summary, published without editor review")
    if editor_reviewed(summary):
        return _(
            "Extractive summary (sentences selected from the original, no AI model), reviewed by an editor"
        )
    return _(
        "Extractive summary (sentences selected from the original, no AI model), published without editor review"
    )


def digital_source_type(summary: Summary) -> str | None:
    return DIGITAL_SOURCE_TYPE.get(summary.kind)


def summary_sources(summary: Summary, article: Article) -> list[CitedSource]:
    """The numbered sources; for a summary of its own article alone, that article as source 1."""
    if not summary.sources:
        return [CitedSource(n=1, name=article.source.name, url=_safe_url(article.url), title=article.title)]
    sources: list[CitedSource] = []
    for row in summary.sources:
        if not isinstance(row, dict) or not isinstance(row.get("n"), int):
            continue
        sources.append(
            CitedSource(
                n=row["n"],
                name=str(row.get("source") or ""),
                url=_safe_url(row.get("url")),
                title=str(row.get("title") or ""),
            )
        )
    return sources


def _numbered(row: dict[str, Any], by_number: dict[int, CitedSource]) -> CitedSource | None:
    n = row.get("source")
    return by_number.get(n) if isinstance(n, int) else None


def _evidence(row: dict[str, Any]) -> list[str]:
    return [str(quote) for quote in row.get("evidence") or [] if str(quote).strip()]


def _backing(row: Any, by_number: dict[int, CitedSource]) -> Backing:
    if not isinstance(row, dict):
        return Backing()
    sources: dict[int, CitedSource] = {}
    quotes: list[Quote] = []
    for citation in row.get("citations") or []:
        if not isinstance(citation, dict) or citation.get("verified") is not True:
            continue
        source = _numbered(citation, by_number)
        if source is None:
            continue
        sources.setdefault(source.n, source)
        quote = str(citation.get("quote") or "").strip()
        if quote:
            quotes.append(Quote(source=source, text=quote))
    return Backing(
        sources=list(sources.values()), quotes=quotes, single_source=row.get("single_source") is True
    )


def cited(summary: Summary | None, article: Article) -> CitedSummary | None:
    """The reader's view of `summary` (the current version of `article`), or None."""
    if summary is None:
        return None
    sources = summary_sources(summary, article)
    # Only a story summary's rows carry citations; a legacy one's numbers mean nothing here.
    by_number = {s.n: s for s in sources} if summary.sources else {}
    points = [
        CitedPoint(
            heading=str(p.get("heading", "")),
            text=str(p.get("text", "")),
            backing=_backing(p, by_number),
            evidence=_evidence(p),
        )
        for p in summary.key_points or []
        if isinstance(p, dict)
    ]
    faq = [
        CitedAnswer(
            question=str(r.get("question", "")),
            answer=str(r.get("answer", "")),
            backing=_backing(r, by_number),
            evidence=_evidence(r),
        )
        for r in summary.faq or []
        if isinstance(r, dict)
    ]
    disagreements: list[Disagreement] = []
    for row in summary.disagreements or []:
        if not isinstance(row, dict):
            continue
        claims = [
            Claim(source=source, says=str(c.get("says") or ""))
            for c in row.get("claims") or []
            if isinstance(c, dict)
            and (source := _numbered(c, by_number)) is not None
            and str(c.get("says") or "").strip()
        ]
        # A disagreement needs two sides readers can check.
        if str(row.get("fact") or "").strip() and len(claims) >= 2:
            disagreements.append(Disagreement(fact=str(row["fact"]), claims=claims))
    return CitedSummary(
        summary=summary, sources=sources, key_points=points, faq=faq, disagreements=disagreements
    )
