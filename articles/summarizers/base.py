"""The one small interface every summary backend implements, and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class SummarizerError(Exception):
    """A backend call failed. `retryable` says whether trying again later can help.

    429 (except a spend limit), 529, 5xx, timeouts and connection errors are retryable;
    400/401/403 and spend-limit errors are not: retrying them only burns attempts.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.usage = usage or Usage()


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
        )


@dataclass(frozen=True)
class SourceDocument:
    """One numbered article of a story, as the model sees it (text already cut to its share
    of the token budget)."""

    n: int
    source: str
    title: str
    text: str
    url: str = ""
    article_id: int | None = None


@dataclass(frozen=True)
class SummaryRequest:
    """Everything a backend needs about one article, or about a story's articles when
    `documents` is set (a story summary: the model sees each source as a separate numbered
    document and cites them). No ORM objects cross this line."""

    title: str
    source: str
    text: str
    topics: list[str] = field(default_factory=list)
    note: str = ""
    previous_errors: list[str] = field(default_factory=list)
    documents: list[SourceDocument] = field(default_factory=list)
    # The summary readers see now, when this request updates a story: the model says what
    # the new reports add to it (or that they add nothing).
    current_summary: str = ""

    @property
    def is_story(self) -> bool:
        return bool(self.documents)


@dataclass(frozen=True)
class BackendReply:
    """One call's raw structured output (not yet validated) and its token usage."""

    data: Any
    usage: Usage
    model: str


class Summarizer(Protocol):
    name: str  # "anthropic", "openai_compat", "extractive"
    model: str  # producer stored on the summary and used for prices
    kind: str  # Summary.Kind value: "ai" or "extractive"
    supports_batches: bool

    def summarize(self, request: SummaryRequest) -> BackendReply: ...
