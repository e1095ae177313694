"""Message Batches: a large backlog goes to the Batches API at half price."""

from __future__ import annotations

import logging

from articles.models import Article, StaleState, SummaryBatch, Topic

from . import budget
from .backends import get_summarizer
from .base import BackendReply, Summarizer, SummarizerError, SummaryRequest
from .sources import story_documents
from .validation import validate_output
from .workflow import (
    _claim,
    _move,
    _record_call,
    _request_for,
    _store,
    batch_backlog_ready,
    summary_input_hash,
)

logger = logging.getLogger(__name__)

Status = Article.Status

MAX_BATCH_SIZE = 10_000  # the API allows 100,000; smaller batches finish and fail smaller


def summaries_submit_batch(*, backend: str | None = None) -> SummaryBatch | None:
    """Send the backlog as one Message Batch when it is larger than SUMMARY_BATCH_THRESHOLD."""
    summarizer = get_summarizer(backend)
    if not batch_backlog_ready(summarizer) or budget.budget_exhausted():
        return None
    requests: dict[str, SummaryRequest] = {}
    claimed: list[Article] = []
    for article in Article.objects.due_for_summary().select_related("source")[:MAX_BATCH_SIZE]:
        # A story summary goes alone (article_summarize): its sources may change before a
        # batch ends, and its citations are numbered against them.
        if story_documents(article):
            continue
        if article.extracted_text.strip() and _claim(article, reason="In a Message Batch."):
            claimed.append(article)
            requests[str(article.pk)] = _request_for(article)
    if not claimed:
        return None
    try:
        batch_id = summarizer.batch_create(requests)  # type: ignore[attr-defined]
    except SummarizerError as exc:
        for article in claimed:
            _move(
                article, Status.EXTRACTED, reason=f"Batch submission failed: {exc}", action="summarize-retry"
            )
        logger.warning("Message batch submission failed: %s", exc)
        return None
    return SummaryBatch.objects.create(batch_id=batch_id, article_ids=[a.pk for a in claimed])


def summaries_poll_batches(*, backend: str | None = None) -> list[int]:
    """Store results of finished batches; return ids that need a single call (per-item fallback)."""
    summarizer = get_summarizer(backend)
    if not summarizer.supports_batches:
        return []
    fallback: list[int] = []
    for batch in SummaryBatch.objects.filter(status="in_progress"):
        try:
            if summarizer.batch_status(batch.batch_id) != "ended":  # type: ignore[attr-defined]
                continue
            results = summarizer.batch_results(batch.batch_id)  # type: ignore[attr-defined]
        except SummarizerError as exc:
            logger.warning("Polling batch %s failed: %s", batch.batch_id, exc)
            continue
        # Claim the batch before storing its results: a poll that overlaps this one (a large
        # batch takes longer than the beat interval) skips it instead of recording every
        # result twice. Should this worker die mid-way, the sweeper re-queues what is left.
        if not batch.mark_ended():
            continue
        articles = Article.objects.select_related("source").in_bulk(batch.article_ids)
        for article_id in batch.article_ids:
            article = articles.get(article_id)
            if article is None or article.status != Status.SUMMARIZING:
                continue
            try:
                if not _store_batch_item(article, results.get(str(article_id)), summarizer):
                    fallback.append(article_id)
            except StaleState:
                logger.warning(
                    "Article %s moved while in batch %s; result not stored.", article_id, batch.batch_id
                )
    return fallback


def _store_batch_item(article: Article, result: BackendReply | str | None, summarizer: Summarizer) -> bool:
    """Store one batch result; on any problem release the article for a single call."""
    if isinstance(result, BackendReply):
        topics = list(Topic.objects.values_list("name", flat=True))
        validated = validate_output(result.data, article_text=article.extracted_text, topics=topics)
        cost = _record_call(
            article=article,
            summarizer=summarizer,
            usage=result.usage,
            outcome="batch" if validated.ok else "invalid-output",
            error="; ".join(validated.errors),
            batch=True,
        )
        if validated.ok:
            _store(
                article=article,
                summarizer_kind=summarizer.kind,
                producer=result.model,
                validated=validated,
                input_hash=summary_input_hash(article=article, model=summarizer.model),
                usage=result.usage,
                cost=cost,
                note="",
            )
            return True
        reason = "Batch output failed validation; retrying alone."
    else:
        reason = f"Batch item failed ({result or 'missing from results'}); retrying alone."
    _move(article, Status.EXTRACTED, reason=reason, action="summarize-retry")
    return False
