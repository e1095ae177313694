"""A story summary's checks as the desk shows them: the grounding score, the facts no cited
source contains, where the sources differ, each point's and answer's citations by source name,
and the update line. Read from what the summary stores (Summary.sources, the citations of
each key point and FAQ row, disagreements, unverified_facts, update_line); nothing is
recomputed here and no query is made."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from articles.models import Summary

# Fact texts longer than this are shown but not searched for in the point's text.
MAX_FACT_CHARACTERS = 200


@dataclass(frozen=True)
class Citation:
    number: int | None
    source: str
    url: str
    quote: str
    verified: bool


@dataclass(frozen=True)
class CheckedPoint:
    label: str
    text: SafeString  # escaped, with its unverified facts marked
    citations: list[Citation]
    # Backed by verified quotes from one source only, in a summary written from several.
    single_source: bool
    unverified: bool
    # False for the key takeaway: it cites nothing and is checked against every source.
    cites: bool = True


@dataclass(frozen=True)
class Disagreement:
    fact: str
    claims: list[tuple[str, str]]  # (source name, what it says)


@dataclass(frozen=True)
class UnverifiedFact:
    where: str
    kind: str
    text: str


@dataclass(frozen=True)
class SummaryChecks:
    summary: Summary
    sources: list[dict[str, Any]]
    points: list[CheckedPoint] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)
    unverified_facts: list[UnverifiedFact] = field(default_factory=list)

    @property
    def grounding_score(self) -> float:
        return self.summary.grounding_score

    @property
    def update_line(self) -> str:
        return self.summary.update_line

    @property
    def checked_sources(self) -> int:
        return self.summary.checked_sources

    @property
    def has_findings(self) -> bool:
        """Something an editor must look at before approving."""
        return bool(self.unverified_facts or self.disagreements or any(p.unverified for p in self.points))


def summary_checks(summary: Summary | None) -> SummaryChecks | None:
    """The checks of a summary written from several sources, or with any finding of the
    multi-source checks; None for a plain one-article summary (the review screen's own
    evidence check covers it)."""
    if summary is None or not (
        summary.sources or summary.disagreements or summary.unverified_facts or summary.update_line
    ):
        return None
    sources = _sources(summary.sources)
    unverified = [_fact(row) for row in summary.unverified_facts or [] if isinstance(row, dict)]
    facts_by_field: dict[str, list[str]] = {}
    for row in summary.unverified_facts or []:
        if isinstance(row, dict) and row.get("text"):
            facts_by_field.setdefault(_field_root(str(row.get("field", ""))), []).append(str(row["text"]))
    takeaway_facts = facts_by_field.get("key_takeaway", [])
    points = [
        CheckedPoint(
            label="Key takeaway",
            text=mark_facts(summary.key_takeaway, takeaway_facts),
            citations=[],
            single_source=False,
            unverified=bool(takeaway_facts),
            cites=False,
        )
    ]
    rows = [
        (f"key_points[{i}]", str(p.get("heading") or f"Point {i + 1}"), str(p.get("text") or ""), p)
        for i, p in enumerate(summary.key_points or [])
        if isinstance(p, dict)
    ]
    rows += [
        (f"faq[{i}]", str(r.get("question") or f"Question {i + 1}"), str(r.get("answer") or ""), r)
        for i, r in enumerate(summary.faq or [])
        if isinstance(r, dict)
    ]
    for where, label, text, row in rows:
        citations = [_citation(c, sources) for c in row.get("citations") or [] if isinstance(c, dict)]
        verified_sources = {c.source for c in citations if c.verified}
        facts = facts_by_field.get(where, [])
        single = row.get("single_source", len(verified_sources) == 1)  # as stored by the summariser
        points.append(
            CheckedPoint(
                label=label,
                text=mark_facts(text, facts),
                citations=citations,
                single_source=len(sources) > 1 and bool(single),
                unverified=bool(facts) or (bool(sources) and not verified_sources),
            )
        )
    disagreements = [
        Disagreement(
            fact=str(row.get("fact") or ""),
            claims=[
                (_source_name(claim.get("source"), sources), str(claim.get("says") or ""))
                for claim in row.get("claims") or []
                if isinstance(claim, dict)
            ],
        )
        for row in summary.disagreements or []
        if isinstance(row, dict)
    ]
    return SummaryChecks(
        summary=summary,
        sources=list(sources.values()),
        points=points,
        disagreements=disagreements,
        unverified_facts=unverified,
    )


def _sources(rows: Any) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for row in rows or []:
        if isinstance(row, dict) and isinstance(row.get("n"), int):
            found[row["n"]] = {
                "n": row["n"],
                "name": str(row.get("source") or f"Source {row['n']}"),
                "url": str(row.get("url") or ""),
                "title": str(row.get("title") or ""),
            }
    return found


def _source_name(number: Any, sources: dict[int, dict[str, Any]]) -> str:
    if number in sources:
        return sources[number]["name"]
    return f"unknown source {number}"


def _citation(row: dict[str, Any], sources: dict[int, dict[str, Any]]) -> Citation:
    number = row.get("source")
    known = sources.get(number) if isinstance(number, int) else None
    return Citation(
        number=number if isinstance(number, int) else None,
        source=_source_name(number, sources),
        url=known["url"] if known else "",
        quote=str(row.get("quote") or ""),
        # A citation of a document the model was never given cannot be verified.
        verified=bool(row.get("verified")) and known is not None,
    )


def _field_root(where: str) -> str:
    """ "key_points[1].text" and "key_points[1]" name the same point."""
    return where.split(".", 1)[0]


def _fact(row: dict[str, Any]) -> UnverifiedFact:
    where = _field_root(str(row.get("field") or ""))
    return UnverifiedFact(
        where=_label(where), kind=str(row.get("kind") or ""), text=str(row.get("text") or "")
    )


def _label(where: str) -> str:
    for prefix, name in (
        ("key_points[", "Key point "),
        ("faq[", "FAQ "),
        ("disagreements[", "Disagreement "),
    ):
        if where.startswith(prefix) and where.endswith("]") and where[len(prefix) : -1].isdigit():
            return f"{name}{int(where[len(prefix) : -1]) + 1}"
    return {"key_takeaway": "Key takeaway", "update_line": "Update line"}.get(where, where)


def mark_facts(text: str, facts: list[str]) -> SafeString:
    """`text`, escaped, with every occurrence of each fact wrapped in <mark class="desk-fact">
    (case-insensitive, plain substring search)."""
    lowered = text.lower()
    # A few characters change length when lower-cased ("İ"): then search the text as it is.
    caseless = len(lowered) == len(text)
    haystack = lowered if caseless else text
    spans: list[tuple[int, int]] = []
    for fact in facts:
        needle = fact.strip().lower() if caseless else fact.strip()
        if not needle or len(needle) > MAX_FACT_CHARACTERS:
            continue
        start = haystack.find(needle)
        while start != -1:
            spans.append((start, start + len(needle)))
            start = haystack.find(needle, start + len(needle))
    spans.sort()
    out, pos = [], 0
    for start, end in spans:
        if start < pos:
            continue  # overlaps a fact already marked
        out.append(escape(text[pos:start]))
        out.append(f'<mark class="desk-fact">{escape(text[start:end])}</mark>')
        pos = end
    out.append(escape(text[pos:]))
    return mark_safe("".join(out))  # every piece above was escaped
