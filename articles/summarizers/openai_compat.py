"""Any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp server) over httpx.

For newsrooms that cannot reach Anthropic: the same prompt and schema, sent as JSON-schema
structured output. Errors are classified the same way as the Anthropic backend's.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from django.conf import settings

from .base import BackendReply, SummarizerError, SummaryRequest, Usage
from .prompt import SYSTEM_PROMPT, request_message, request_tool

SPEND_LIMIT_CODES = {
    "insufficient_quota",
    "credit_balance_exhausted",
    "organization_spend_limit_exceeded",
    "project_spend_limit_exceeded",
    "organization_usage_limit_exceeded",
}


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


def _error_code(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return "", response.text[:300]
    if not isinstance(error, dict):
        return "", str(error)[:300]
    return str(error.get("code") or error.get("type") or ""), str(error.get("message", ""))[:300]


class OpenAICompatSummarizer:
    name = "openai_compat"
    kind = "ai"
    supports_batches = False

    def __init__(
        self,
        *,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.model = model or settings.OPENAI_COMPAT_MODEL
        key = api_key if api_key is not None else settings.OPENAI_COMPAT_API_KEY
        self.client = httpx.Client(
            base_url=(base_url or settings.OPENAI_COMPAT_BASE_URL).rstrip("/") + "/",
            headers={"Authorization": f"Bearer {key}"} if key else {},
            timeout=timeout or settings.SUMMARY_MODEL_TIMEOUT_SECONDS,
        )

    def summarize(self, request: SummaryRequest) -> BackendReply:
        _tool, _description, schema = request_tool(request)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": request_message(request)},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "story_summary" if request.is_story else "summary",
                    "schema": schema,
                    "strict": True,
                },
            },
            "temperature": 0,
        }
        try:
            response = self.client.post("chat/completions", json=body)
        except httpx.TimeoutException as exc:
            raise SummarizerError(f"timeout: {exc}", retryable=True) from exc
        except httpx.HTTPError as exc:
            raise SummarizerError(f"connection error: {exc}", retryable=True) from exc

        if response.status_code >= 400:
            code, message = _error_code(response)
            status = response.status_code
            text = f"HTTP {status}: {code} {message}".strip()
            if code in SPEND_LIMIT_CODES:
                raise SummarizerError(f"spend limit reached: {text}", retryable=False, status=status)
            retryable = status in (408, 409, 429) or status >= 500
            raise SummarizerError(
                text, retryable=retryable, retry_after=_retry_after(response), status=status
            )

        try:
            payload = response.json()
            raw = payload.get("usage") or {}
            cached = (raw.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            usage = Usage(
                input_tokens=max(0, (raw.get("prompt_tokens") or 0) - cached),
                output_tokens=raw.get("completion_tokens") or 0,
                cache_read_tokens=cached,
            )
            content = payload["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise SummarizerError(f"unexpected response shape: {exc}", retryable=True) from exc
        try:
            data = json.loads(content) if isinstance(content, str) else content
        except ValueError:
            data = None  # malformed JSON is an output-validation failure, retried once with feedback
        return BackendReply(data=data, usage=usage, model=self.model)
