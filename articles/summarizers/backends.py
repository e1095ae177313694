"""The configured summary backend, shared across calls and threads, and what its calls cost."""

from __future__ import annotations

import logging
import os
import threading
from decimal import Decimal

from django.conf import settings

from .base import Summarizer, Usage
from .extractive import ExtractiveSummarizer

logger = logging.getLogger(__name__)

BATCH_DISCOUNT = Decimal("0.5")


_backends: dict[tuple, Summarizer] = {}
_backends_lock = threading.Lock()


def get_summarizer(name: str | None = None) -> Summarizer:
    """The configured backend. Clients are reused across calls and threads (httpx clients are
    thread-safe): building one per article costs a TLS context and a connection pool each time."""
    name = name or settings.SUMMARY_BACKEND
    if name == "anthropic":
        from .anthropic_backend import AnthropicSummarizer as backend_class
    elif name == "openai_compat":
        from .openai_compat import OpenAICompatSummarizer as backend_class
    elif name == "extractive":
        return ExtractiveSummarizer()
    else:
        raise ValueError(f"Unknown summary backend {name!r}; use anthropic, openai_compat or extractive.")
    key = (
        name,
        settings.ANTHROPIC_MODEL,
        settings.ANTHROPIC_API_KEY,
        os.environ.get("ANTHROPIC_BASE_URL", ""),  # read by the SDK itself
        settings.OPENAI_COMPAT_BASE_URL,
        settings.OPENAI_COMPAT_MODEL,
        settings.OPENAI_COMPAT_API_KEY,
        settings.SUMMARY_MODEL_TIMEOUT_SECONDS,
    )
    with _backends_lock:
        if key not in _backends:
            _backends[key] = backend_class()
        return _backends[key]


def price_for(model: str) -> dict[str, Decimal] | None:
    """Prices for `model`, matching dated snapshots ("claude-haiku-4-5-20251001") by prefix."""
    prices = settings.SUMMARY_PRICES
    key = model if model in prices else max((k for k in prices if model.startswith(k)), key=len, default=None)
    if key is None:
        return None
    return {name: Decimal(str(value)) for name, value in prices[key].items()}


def cost_of(usage: Usage, model: str, *, batch: bool = False) -> Decimal:
    """USD for one call from SUMMARY_PRICES (per million tokens). Unknown models cost 0."""
    prices = price_for(model)
    if prices is None:
        return Decimal("0")
    total = (
        usage.input_tokens * prices.get("input", Decimal(0))
        + usage.output_tokens * prices.get("output", Decimal(0))
        + usage.cache_write_tokens * prices.get("cache_write", Decimal(0))
        + usage.cache_read_tokens * prices.get("cache_read", Decimal(0))
    ) / Decimal(1_000_000)
    if batch:
        total *= BATCH_DISCOUNT
    return total.quantize(Decimal("0.000001"))
