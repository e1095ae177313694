"""Grounding check: is every evidence quote really in the article?

Quotes are compared after normalising case, whitespace, quote characters and dashes, because
models (and our own extraction) legitimately differ there; words and numbers must match.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .schema import StorySummaryOutput, SummaryOutput

_QUOTE_CHARS = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
        "\u00a0": " ", "\u2026": "...",
    }
)  # fmt: skip
_SPACE = re.compile(r"\s+")
# Wrapping a quote in quotation marks or trailing punctuation is not fabrication.
_EDGE = " \"'.,;:!?…"


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_QUOTE_CHARS)
    return _SPACE.sub(" ", text).strip().casefold()


def quote_in_text(quote: str, normalised_text: str) -> bool:
    needle = normalise(quote).strip(_EDGE)
    return bool(needle) and needle in normalised_text


@dataclass(frozen=True)
class GroundingReport:
    score: float  # share of key points and FAQ answers with at least one verified quote
    unverified_claims: list[dict] = field(default_factory=list)  # items with no verified quote
    unverified_quotes: list[str] = field(default_factory=list)  # every quote not found


def check_grounding(output: SummaryOutput, text: str) -> GroundingReport:
    haystack = normalise(text)
    items = [(f"key_points[{i}]", p.heading, p.text, p.evidence) for i, p in enumerate(output.key_points)]
    items += [(f"faq[{i}]", q.question, q.answer, q.evidence) for i, q in enumerate(output.faq)]
    grounded = 0
    unverified_claims: list[dict] = []
    unverified_quotes: list[str] = []
    for where, label, claim, evidence in items:
        missing = [q for q in evidence if not quote_in_text(q, haystack)]
        unverified_quotes += missing
        if len(missing) < len(evidence):
            grounded += 1
        else:
            unverified_claims.append({"field": where, "label": label, "claim": claim, "evidence": evidence})
    score = grounded / len(items) if items else 0.0
    return GroundingReport(round(score, 4), unverified_claims, unverified_quotes)


@dataclass(frozen=True)
class StoryGroundingReport(GroundingReport):
    """Grounding of a story summary, checked per source: each citation's quote must be in the
    source it names. `key_points` and `faq` are the rows to store, each citation marked
    verified or not and each row marked single_source when its verified citations come
    from one source only."""

    key_points: list[dict] = field(default_factory=list)
    faq: list[dict] = field(default_factory=list)


def check_story_grounding(output: StorySummaryOutput, documents: list) -> StoryGroundingReport:
    haystacks = {d.n: normalise(d.text) for d in documents}
    grounded = 0
    unverified_claims: list[dict] = []
    unverified_quotes: list[str] = []
    rows: dict[str, list[dict]] = {"key_points": [], "faq": []}
    items = [("key_points", i, p.heading, p.text, p) for i, p in enumerate(output.key_points)]
    items += [("faq", i, q.question, q.answer, q) for i, q in enumerate(output.faq)]
    for kind, i, label, claim, item in items:
        citations = [
            {
                "source": c.source,
                "quote": c.quote,
                "verified": quote_in_text(c.quote, haystacks.get(c.source, "")),
            }
            for c in item.citations
        ]
        verified_sources = {c["source"] for c in citations if c["verified"]}
        unverified_quotes += [f"[source {c['source']}] {c['quote']}" for c in citations if not c["verified"]]
        if verified_sources:
            grounded += 1
        else:
            unverified_claims.append(
                {
                    "field": f"{kind}[{i}]",
                    "label": label,
                    "claim": claim,
                    "evidence": [c["quote"] for c in citations],
                }
            )
        row = (
            {"heading": label, "text": claim}
            if kind == "key_points"
            else {"question": label, "answer": claim}
        )
        row |= {
            "evidence": [c["quote"] for c in citations if c["verified"]] or [c["quote"] for c in citations],
            "citations": citations,
            "single_source": len(verified_sources) == 1,
        }
        rows[kind].append(row)
    score = grounded / len(items) if items else 0.0
    return StoryGroundingReport(
        round(score, 4), unverified_claims, unverified_quotes, rows["key_points"], rows["faq"]
    )
