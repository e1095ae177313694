"""Summary versions as the desk compares them: the editor's edit, normalised, as lines and
as a diff."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from articles.models import Summary


@dataclass(frozen=True)
class SummaryEdit:
    """What the review form submits: the editor's version of the summary."""

    key_takeaway: str
    key_points: list[dict[str, Any]]
    faq: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, summary: Summary) -> SummaryEdit:
        return cls(key_takeaway=summary.key_takeaway, key_points=summary.key_points, faq=summary.faq or [])

    def as_fields(self) -> dict[str, Any]:
        return {"key_takeaway": self.key_takeaway, "key_points": self.key_points, "faq": self.faq}


def summary_lines(fields: dict[str, Any] | Summary | None) -> list[str]:
    """A summary as plain lines, the unit the desk diffs on."""
    if fields is None:
        return []
    if isinstance(fields, Summary):
        fields = SummaryEdit.of(fields).as_fields()
    lines = [f"Key takeaway: {fields.get('key_takeaway', '')}"]
    for point in fields.get("key_points") or []:
        lines.append(f"{point.get('heading', '')}: {point.get('text', '')}")
        lines.extend(f"    evidence: {q}" for q in point.get("evidence") or [])
    for row in fields.get("faq") or []:
        lines.append(f"Q: {row.get('question', '')}")
        lines.append(f"A: {row.get('answer', '')}")
        lines.extend(f"    evidence: {q}" for q in row.get("evidence") or [])
    return lines


def summary_diff(old: Any, new: Any) -> list[tuple[str, str]]:
    """(kind, line) pairs with kind in {"same", "added", "removed"}: small enough to template."""
    rows: list[tuple[str, str]] = []
    for line in difflib.ndiff(summary_lines(old), summary_lines(new)):
        tag, text = line[:2], line[2:]
        if tag == "+ ":
            rows.append(("added", text))
        elif tag == "- ":
            rows.append(("removed", text))
        elif tag == "  ":
            rows.append(("same", text))
    return rows


def normalised(edit: SummaryEdit) -> dict[str, Any]:
    return {
        "key_takeaway": edit.key_takeaway.strip(),
        "key_points": [
            {
                "heading": p.get("heading", ""),
                "text": str(p.get("text", "")).strip(),
                "evidence": [str(q).strip() for q in p.get("evidence") or [] if str(q).strip()],
            }
            for p in edit.key_points
        ],
        "faq": [
            {
                "question": str(r.get("question", "")).strip(),
                "answer": str(r.get("answer", "")).strip(),
                "evidence": [str(q).strip() for q in r.get("evidence") or [] if str(q).strip()],
            }
            for r in edit.faq
        ],
    }
