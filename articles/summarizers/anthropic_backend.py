"""Claude through the official anthropic SDK: a forced tool call whose input is the summary.

The SDK reads ANTHROPIC_BASE_URL itself (tests point it at a loopback fake). Its own quick
retries are switched off: our Celery task owns retries, with longer backoff that honours
retry-after, so an outage of minutes does not fail the article.
"""

from __future__ import annotations

from typing import Any

import anthropic
from django.conf import settings

from .base import BackendReply, SummarizerError, SummaryRequest, Usage
from .prompt import STORY_TOOL_NAME, SYSTEM_PROMPT, TOOL_NAME, request_message, request_tool

MAX_OUTPUT_TOKENS = 2048
SPEND_LIMIT_CODES = {"enforced_spend_limit_reached"}
SPEND_LIMIT_PHRASES = ("spend limit", "usage limits", "credit balance")


def _usage(raw: Any) -> Usage:
    return Usage(
        input_tokens=getattr(raw, "input_tokens", 0) or 0,
        output_tokens=getattr(raw, "output_tokens", 0) or 0,
        cache_write_tokens=getattr(raw, "cache_creation_input_tokens", 0) or 0,
        cache_read_tokens=getattr(raw, "cache_read_input_tokens", 0) or 0,
    )


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date; rare here, and our own backoff is a safe fallback


def _is_spend_limit(exc: anthropic.APIStatusError) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", {}) if isinstance(body.get("error"), dict) else {}
    code = (
        (error.get("details") or {}).get("error_code", "") if isinstance(error.get("details"), dict) else ""
    )
    message = str(error.get("message", exc.message)).lower()
    return code in SPEND_LIMIT_CODES or any(p in message for p in SPEND_LIMIT_PHRASES)


def classify_error(exc: Exception) -> SummarizerError:
    """Map an SDK exception to our error: what to retry is decided here, once."""
    if isinstance(exc, anthropic.APITimeoutError):
        return SummarizerError(f"timeout: {exc}", retryable=True)
    if isinstance(exc, anthropic.APIConnectionError):
        return SummarizerError(f"connection error: {exc}", retryable=True)
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        text = f"HTTP {status}: {exc.message}"
        if _is_spend_limit(exc):
            return SummarizerError(f"spend limit reached: {text}", retryable=False, status=status)
        retryable = status in (408, 409, 429) or status >= 500
        return SummarizerError(
            text, retryable=retryable, retry_after=_retry_after(exc.response), status=status
        )
    return SummarizerError(f"{type(exc).__name__}: {exc}", retryable=False)


def request_params(request: SummaryRequest, *, model: str) -> dict[str, Any]:
    """The Messages API parameters for one article or story; shared by single calls and batches."""
    name, description, schema = request_tool(request)
    return {
        "model": model,
        "max_tokens": MAX_OUTPUT_TOKENS,
        # The cache breakpoint on the system block caches tools + system: the long, stable
        # prefix. Only the user message (the article, or the story's sources) is new on each call.
        "system": [{"type": "text", "text": SYSTEM_PROMPT, "cache_control": {"type": "ephemeral"}}],
        "tools": [{"name": name, "description": description, "input_schema": schema}],
        "tool_choice": {"type": "tool", "name": name},
        "messages": [{"role": "user", "content": request_message(request)}],
    }


def tool_input(message: Any) -> Any:
    """The forced tool call's input, or None if the model (somehow) did not call it."""
    for block in message.content or []:
        if getattr(block, "type", None) == "tool_use" and block.name in (TOOL_NAME, STORY_TOOL_NAME):
            return block.input
    return None


class AnthropicSummarizer:
    name = "anthropic"
    kind = "ai"
    supports_batches = True

    def __init__(self, *, model: str | None = None, api_key: str | None = None, timeout: float | None = None):
        self.model = model or settings.ANTHROPIC_MODEL
        self.client = anthropic.Anthropic(
            api_key=api_key or settings.ANTHROPIC_API_KEY,
            timeout=timeout or settings.SUMMARY_MODEL_TIMEOUT_SECONDS,
            max_retries=0,
        )

    def summarize(self, request: SummaryRequest) -> BackendReply:
        try:
            message = self.client.messages.create(**request_params(request, model=self.model))
        except anthropic.AnthropicError as exc:
            raise classify_error(exc) from exc
        return BackendReply(data=tool_input(message), usage=_usage(message.usage), model=self.model)

    # --- Message Batches (half price, results within 24 h) ----------------------------

    def batch_create(self, requests: dict[str, SummaryRequest]) -> str:
        try:
            batch = self.client.messages.batches.create(
                requests=[
                    {"custom_id": custom_id, "params": request_params(req, model=self.model)}
                    for custom_id, req in requests.items()
                ]
            )
        except anthropic.AnthropicError as exc:
            raise classify_error(exc) from exc
        return batch.id

    def batch_status(self, batch_id: str) -> str:
        try:
            return self.client.messages.batches.retrieve(batch_id).processing_status
        except anthropic.AnthropicError as exc:
            raise classify_error(exc) from exc

    def batch_results(self, batch_id: str) -> dict[str, BackendReply | str]:
        """custom_id -> reply, or an error string for errored/expired/canceled items."""
        results: dict[str, BackendReply | str] = {}
        try:
            for item in self.client.messages.batches.results(batch_id):
                if item.result.type == "succeeded":
                    message = item.result.message
                    results[item.custom_id] = BackendReply(
                        data=tool_input(message), usage=_usage(message.usage), model=self.model
                    )
                else:
                    error = getattr(item.result, "error", None)
                    results[item.custom_id] = f"batch item {item.result.type}: {error}"
        except anthropic.AnthropicError as exc:
            raise classify_error(exc) from exc
        return results
