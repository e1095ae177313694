"""Evidence on the desk: which quotes occur in the source text, where, and the grounding
score of an editor's version."""

from __future__ import annotations

import re
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from articles.models import Article
from articles.summarizers.grounding import normalise, quote_in_text

# Characters the grounding check treats as equal (summarizers/grounding.py normalises them);
# the highlighter must find the same quotes in the raw text, so each becomes a class.
_EQUIVALENT = {
    **dict.fromkeys("'\u2018\u2019\u201a\u201b\u2032`", "['\u2018\u2019\u201a\u201b\u2032`]"),
    **dict.fromkeys(
        '"\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb', '["\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb]'
    ),
    **dict.fromkeys("-\u2010\u2011\u2012\u2013\u2014\u2212", "[-\u2010\u2011\u2012\u2013\u2014\u2212]"),
}
_EDGE = " \"'.,;:!?\u2026\u201c\u201d\u2018\u2019"


def _quote_pattern(quote: str) -> re.Pattern[str] | None:
    words = quote.strip(_EDGE).split()
    if not words:
        return None
    # Feeds and extractors disagree about whitespace, case, quote marks and dashes; the words
    # must still match in order.
    parts = ["".join(_EQUIVALENT.get(ch, re.escape(ch)) for ch in word) for word in words]
    return re.compile(r"\s+".join(parts), re.IGNORECASE)


def quote_spans(text: str, quote: str) -> list[tuple[int, int]]:
    pattern = _quote_pattern(quote)
    if pattern is None:
        return []
    return [m.span() for m in pattern.finditer(text)]


def source_text(article: Article) -> str:
    """What the summary is checked against: the extracted text, or the feed's own text when
    extraction found nothing (the summariser falls back the same way)."""
    return article.extracted_text or article.feed_summary


def evidence_quotes(fields: dict[str, Any]) -> list[str]:
    quotes: list[str] = []
    for row in list(fields.get("key_points") or []) + list(fields.get("faq") or []):
        quotes.extend(q for q in row.get("evidence") or [] if str(q).strip())
    return quotes


def highlight_evidence(text: str, quotes: list[str]) -> SafeString:
    """The source text, escaped, with every occurrence of every quote wrapped in <mark>."""
    spans: list[tuple[int, int]] = []
    for quote in quotes:
        spans.extend(quote_spans(text, quote))
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    pos = 0
    for start, end in merged:
        out.append(escape(text[pos:start]))
        out.append(f'<mark class="evidence">{escape(text[start:end])}</mark>')
        pos = end
    out.append(escape(text[pos:]))
    return mark_safe("".join(out))  # every piece above was escaped


def grounding_of(text: str, fields: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    """Grounding of an editor's version, by the same rule as the AI's (summarizers/grounding.py):
    a key point or FAQ answer is grounded when at least one of its quotes is in the text.

    Returns the share grounded and the unverified claims in the summariser's format.
    """
    haystack = normalise(text)
    items = [
        (f"key_points[{i}]", p.get("heading", ""), p.get("text", ""), p.get("evidence") or [])
        for i, p in enumerate(fields.get("key_points") or [])
    ]
    items += [
        (f"faq[{i}]", r.get("question", ""), r.get("answer", ""), r.get("evidence") or [])
        for i, r in enumerate(fields.get("faq") or [])
    ]
    unverified = [
        {"field": where, "label": label, "claim": claim, "evidence": evidence}
        for where, label, claim, evidence in items
        if not claim_verified(haystack, evidence)
    ]
    score = (len(items) - len(unverified)) / len(items) if items else 0.0
    return round(score, 4), unverified


def claim_verified(normalised_text: str, evidence: list[str]) -> bool:
    return any(quote_in_text(q, normalised_text) for q in evidence)


def claim_text(claim: Any) -> str:
    """One unverified claim for display, whatever shape an older version stored."""
    if isinstance(claim, dict):
        label, text = claim.get("label", ""), claim.get("claim", "")
        return f"{label}: {text}" if label else str(text)
    return str(claim)
