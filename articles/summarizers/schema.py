"""The structured output every backend must produce, as pydantic models.

The same JSON schema is sent to the model (forced tool call / JSON-schema output), and the
reply is validated again here: the API enforcing a schema is not a reason to trust it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from articles.models import KEY_POINT_HEADINGS

Heading = Literal["What happened", "Why it matters", "What to watch"]
assert tuple(Heading.__args__) == KEY_POINT_HEADINGS  # one source of truth for the headings

# Generous hard limits: the prompt asks for less; these only catch runaway output.
MAX_TAKEAWAY_WORDS = 80
MAX_POINT_CHARS = 700
MAX_QUOTE_CHARS = 600
MAX_FAQ = 3


class KeyPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heading: Heading
    text: str = Field(min_length=1, max_length=MAX_POINT_CHARS)
    evidence: list[str] = Field(min_length=1, max_length=4)


class FaqItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=300)
    answer: str = Field(min_length=1, max_length=MAX_POINT_CHARS)
    evidence: list[str] = Field(min_length=1, max_length=4)


class SummaryOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_takeaway: str = Field(min_length=1, max_length=900)
    key_points: list[KeyPoint] = Field(min_length=3, max_length=3)
    faq: list[FaqItem] = Field(default_factory=list, max_length=MAX_FAQ)
    suggested_topics: list[str] = Field(default_factory=list, max_length=5)


class Citation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: int = Field(ge=1, le=100)
    quote: str = Field(min_length=1, max_length=MAX_QUOTE_CHARS)


class StoryKeyPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heading: Heading
    text: str = Field(min_length=1, max_length=MAX_POINT_CHARS)
    citations: list[Citation] = Field(min_length=1, max_length=6)


class StoryFaqItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=300)
    answer: str = Field(min_length=1, max_length=MAX_POINT_CHARS)
    citations: list[Citation] = Field(min_length=1, max_length=6)


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: int = Field(ge=1, le=100)
    says: str = Field(min_length=1, max_length=300)


class Disagreement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fact: str = Field(min_length=1, max_length=200)
    claims: list[Claim] = Field(min_length=2, max_length=6)


class UpdateNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    is_new: bool
    line: str = Field(default="", max_length=300)


class StorySummaryOutput(BaseModel):
    """A story summary: as SummaryOutput, but every point cites numbered sources."""

    model_config = ConfigDict(extra="forbid")

    key_takeaway: str = Field(min_length=1, max_length=900)
    key_points: list[StoryKeyPoint] = Field(min_length=3, max_length=3)
    faq: list[StoryFaqItem] = Field(default_factory=list, max_length=MAX_FAQ)
    disagreements: list[Disagreement] = Field(default_factory=list, max_length=5)
    update: UpdateNote | None = None
    suggested_topics: list[str] = Field(default_factory=list, max_length=5)


def _string_array(description: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "description": description}


# Written out by hand rather than generated from the models: providers accept different
# JSON-schema subsets ($defs, maxLength, minItems are not universal), so the wire schema
# stays plain and the length rules are checked in our code after the reply.
SUMMARY_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["key_takeaway", "key_points", "faq", "suggested_topics"],
    "properties": {
        "key_takeaway": {"type": "string", "description": "One paragraph, at most 60 words."},
        "key_points": {
            "type": "array",
            "description": "Exactly three, in this order: What happened, Why it matters, What to watch.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["heading", "text", "evidence"],
                "properties": {
                    "heading": {"type": "string", "enum": list(KEY_POINT_HEADINGS)},
                    "text": {"type": "string", "description": "One to three sentences."},
                    "evidence": _string_array("Verbatim passages copied from the article."),
                },
            },
        },
        "faq": {
            "type": "array",
            "description": "Up to three questions a curious reader would ask, answered from the article.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["question", "answer", "evidence"],
                "properties": {
                    "question": {"type": "string"},
                    "answer": {"type": "string"},
                    "evidence": _string_array("Verbatim passages copied from the article."),
                },
            },
        },
        "suggested_topics": _string_array("Names from the site's topic list only."),
    },
}


_CITATIONS: dict[str, Any] = {
    "type": "array",
    "description": "One to three citations: a source number and a passage copied verbatim from that source.",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["source", "quote"],
        "properties": {
            "source": {"type": "integer", "description": "The number of the SOURCE block quoted."},
            "quote": {"type": "string", "description": "A passage copied character for character from it."},
        },
    },
}

STORY_SUMMARY_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["key_takeaway", "key_points", "faq", "disagreements", "update", "suggested_topics"],
    "properties": {
        "key_takeaway": {"type": "string", "description": "One paragraph, at most 60 words."},
        "key_points": {
            "type": "array",
            "description": "Exactly three, in this order: What happened, Why it matters, What to watch.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["heading", "text", "citations"],
                "properties": {
                    "heading": {"type": "string", "enum": list(KEY_POINT_HEADINGS)},
                    "text": {"type": "string", "description": "One to three sentences."},
                    "citations": _CITATIONS,
                },
            },
        },
        "faq": {
            "type": "array",
            "description": "Up to three questions a curious reader would ask, answered from the sources.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["question", "answer", "citations"],
                "properties": {
                    "question": {"type": "string"},
                    "answer": {"type": "string"},
                    "citations": _CITATIONS,
                },
            },
        },
        "disagreements": {
            "type": "array",
            "description": "Facts (numbers, dates, names) the sources report differently; empty when they agree.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["fact", "claims"],
                "properties": {
                    "fact": {"type": "string", "description": "What the sources disagree about."},
                    "claims": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["source", "says"],
                            "properties": {"source": {"type": "integer"}, "says": {"type": "string"}},
                        },
                    },
                },
            },
        },
        "update": {
            "type": "object",
            "additionalProperties": False,
            "required": ["is_new", "line"],
            "description": "Only meaningful when a current summary is given: do the sources add anything to it?",
            "properties": {
                "is_new": {"type": "boolean"},
                "line": {
                    "type": "string",
                    "description": "One line on what changed; empty when nothing is new.",
                },
            },
        },
        "suggested_topics": _string_array("Names from the site's topic list only."),
    },
}
