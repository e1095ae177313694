"""Measuring the grouping on labelled data (`manage.py cluster_eval`): the articles go through
grouping.place_article with the production settings, in memory (grouping.MemoryStore makes
the same decisions as the database store, tests/articles/stories/test_store.py proves it), and
the result is scored with B-cubed precision, recall and F1 against the gold stories.

With an embeddings backend configured (STORY_EMBEDDINGS_URL), the articles are embedded
STORY_EMBEDDINGS_BATCH_SIZE at a time, each batch just before it is placed (its texts without
the sources' repeated sentences known by then), then placed with their vectors as production
places them; an article the endpoint gave no vector is placed by TF-IDF alone, as in
production. The throughput counts the grouping's CPU time, not the embedding.

B-cubed (Bagga and Baldwin, 1998) scores every article: its precision is the share of its
predicted story that belongs to its gold story, its recall the share of its gold story that
landed in its predicted story; both are averaged over articles, so a big story counts by its
size and a wrong merge of two big stories costs what it should."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings

from . import embeddings
from .grouping import ArticleInput, MemoryStore, grouping_lead, place_article

# A line longer than this is refused rather than parsed: the reader's memory stays bounded.
MAX_LINE_BYTES = 1_000_000
# Only this much of a text is kept; grouping reads far less (similarity.LEAD_CHARACTERS and
# the fingerprint's shingles of the text).
MAX_TEXT_CHARACTERS = 20_000


class EvaluationInputError(ValueError):
    """A line of the input is not an article: says which line and why."""


@dataclass(frozen=True)
class LabelledArticle:
    article: ArticleInput
    cluster: str | None
    # Its `published` had no time zone and was read as UTC.
    assumed_utc: bool = False


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class Embedded:
    """What the embeddings endpoint did for an evaluation: vectors received for how many
    articles, in how long (wall-clock time: the model runs elsewhere)."""

    articles: int
    received: int
    seconds: float

    @property
    def texts_per_second(self) -> float:
        return self.received / self.seconds if self.seconds else float("inf")


@dataclass(frozen=True)
class Evaluation:
    stories: dict[Hashable, Hashable]  # article id → story id
    copies: int
    seconds: float
    scores: Scores | None
    embedded: Embedded | None = None

    @property
    def articles_per_second(self) -> float:
        return len(self.stories) / self.seconds if self.seconds else float("inf")


def read_articles(path: Path) -> list[LabelledArticle]:
    """Articles from a JSON-lines file: `id`, `title`, `text`, `published` (ISO 8601 or null;
    a time without a zone is read as UTC), optional `source` and gold `cluster`. A byte-order
    mark and blank lines are skipped; anything else that is not such an object raises
    EvaluationInputError naming the line."""
    articles: list[LabelledArticle] = []
    seen: set[str] = set()
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if len(raw) > MAX_LINE_BYTES:
                raise EvaluationInputError(f"line {number}: longer than {MAX_LINE_BYTES} bytes")
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except ValueError as exc:
                raise EvaluationInputError(f"line {number}: not JSON ({exc})") from None
            articles.append(_labelled(row, number, seen))
    return articles


def _labelled(row: object, number: int, seen: set[str]) -> LabelledArticle:
    if not isinstance(row, dict):
        raise EvaluationInputError(f"line {number}: not a JSON object")
    key = row.get("id")
    if not isinstance(key, (str, int)) or isinstance(key, bool) or str(key) in seen:
        raise EvaluationInputError(f"line {number}: `id` must be a unique string or number")
    seen.add(str(key))
    title, text = row.get("title") or "", row.get("text") or ""
    if not isinstance(title, str) or not isinstance(text, str):
        raise EvaluationInputError(f"line {number}: `title` and `text` must be strings")
    published = row.get("published")
    try:
        when = datetime.fromisoformat(published) if published else None
    except (TypeError, ValueError):
        raise EvaluationInputError(f"line {number}: `published` is not an ISO 8601 time") from None
    assumed_utc = when is not None and when.tzinfo is None
    if assumed_utc:
        when = when.replace(tzinfo=UTC)
    cluster = row.get("cluster")
    return LabelledArticle(
        article=ArticleInput(
            key=key,
            title=title[:500],
            text=text[:MAX_TEXT_CHARACTERS],
            published=when,
            source=row.get("source") if isinstance(row.get("source"), (str, int)) else None,
        ),
        cluster=str(cluster) if cluster is not None else None,
        assumed_utc=assumed_utc,
    )


def arrival_order(articles: Sequence[LabelledArticle]) -> list[LabelledArticle]:
    """The order production would see them in: by publication time when every article has
    one (ties keep the file's order), else the file's order."""
    if all(item.article.published for item in articles):
        return sorted(articles, key=lambda item: item.article.published)
    return list(articles)


def evaluate(articles: Sequence[LabelledArticle]) -> Evaluation:
    """Group `articles` as production would, with the settings' window, threshold and
    embeddings backend, and score the result when every article carries a gold cluster."""
    store = MemoryStore()
    window = timedelta(hours=settings.STORY_WINDOW_HOURS)
    threshold, weight = embeddings.scoring()
    inputs = [item.article for item in arrival_order(articles)]
    stories: dict[Hashable, Hashable] = {}
    copies = 0
    seconds = 0.0
    with embeddings.client_from_settings() if weight else nullcontext() as client:
        embedder = _Embedder(client, store, window) if client is not None else None
        batch = client.batch_size if client is not None else len(inputs) or 1
        for start in range(0, len(inputs), batch):
            chunk = inputs[start : start + batch]
            if embedder is not None:
                chunk = embedder.embedded(chunk)
            started = time.process_time()
            for article in chunk:
                placement = place_article(
                    article, store, window=window, threshold=threshold, embedding_weight=weight
                )
                stories[article.key] = placement.story
                copies += placement.copy_of is not None
            seconds += time.process_time() - started
    # A story merged into another by consolidation holds none of its articles any more.
    stories = {key: store.story_of(story) for key, story in stories.items()}
    scores = None
    if articles and all(item.cluster is not None for item in articles):
        gold = [item.cluster for item in articles]
        scores = bcubed(gold, [stories[item.article.key] for item in articles])
    embedded = embedder.report() if embedder is not None else None
    return Evaluation(stories=stories, copies=copies, seconds=seconds, scores=scores, embedded=embedded)


class _Embedder:
    """Sentence vectors for the articles, a batch at a time just before the batch is placed,
    each text from the lead grouping reads as the store stands then (grouping.grouping_lead),
    as production embeds an article before it takes the lock while other articles are being
    placed. After a failed batch no more requests are sent (the rest are placed by TF-IDF
    alone, as production does while the endpoint is paused)."""

    def __init__(self, client: embeddings.EmbeddingsClient, store: MemoryStore, window: timedelta) -> None:
        self.client, self.store, self.window = client, store, window
        self.articles = self.received = 0
        self.seconds = 0.0
        self.failed = False

    def embedded(self, chunk: list[ArticleInput]) -> list[ArticleInput]:
        self.articles += len(chunk)
        if self.failed:
            return chunk
        started = time.perf_counter()
        texts = [
            embeddings.embedding_text(a.title, grouping_lead(a, self.store, self.window)[0]) for a in chunk
        ]
        vectors = self.client.embed_all(texts)
        self.seconds += time.perf_counter() - started
        self.received += sum(vector is not None for vector in vectors)
        self.failed = None in vectors
        return [replace(a, embedding=vector) for a, vector in zip(chunk, vectors, strict=True)]

    def report(self) -> Embedded:
        return Embedded(articles=self.articles, received=self.received, seconds=self.seconds)


def bcubed(gold: Iterable[Hashable], predicted: Iterable[Hashable]) -> Scores:
    """B-cubed precision, recall and F1 of `predicted` labels against `gold` labels, given in
    the same article order."""
    pairs = list(zip(gold, predicted, strict=True))
    if not pairs:
        return Scores(0.0, 0.0, 0.0)
    together = Counter(pairs)
    gold_sizes = Counter(g for g, _ in pairs)
    predicted_sizes = Counter(p for _, p in pairs)
    precision = sum(n * n / predicted_sizes[p] for (_, p), n in together.items()) / len(pairs)
    recall = sum(n * n / gold_sizes[g] for (g, _), n in together.items()) / len(pairs)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1)
