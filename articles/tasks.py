"""Celery tasks for articles: thin doors onto services. They take ids, re-load rows and
check state, so a redelivered task is harmless. Queues are routed in settings.
"""

from __future__ import annotations

from celery import shared_task  # noqa: F401
from django.conf import settings
from django.db import InterfaceError, OperationalError

# ======================================================================================
# Ingestion: poll_due_sources, fetch_source(source_id), extract_article(article_id),
# sweep_unextracted_articles
# ======================================================================================


@shared_task(soft_time_limit=60, time_limit=90)
def poll_due_sources() -> int:
    """Claim every due source and fan out one fetch_source each. Safe to overlap: a source
    is claimed by a conditional UPDATE, so it is enqueued once per due time."""
    from articles.ingest import services

    source_ids = services.sources_claim_due()
    for source_id in source_ids:
        fetch_source.delay(source_id)
    return len(source_ids)


@shared_task(soft_time_limit=120, time_limit=150)
def fetch_source(source_id: int) -> dict:
    """Poll one source and enqueue extraction of its new articles once they are committed.
    Not retried: a failure is recorded and the source's back-off decides the next try."""
    from articles.ingest import services
    from articles.models import Source

    source = Source.objects.filter(pk=source_id, is_active=True, paused_at__isnull=True).first()
    if source is None:
        return {"skipped": True}
    result = services.source_poll(source=source)
    for article_id in result.new_article_ids:
        extract_article.delay_on_commit(article_id)
    return {"outcome": result.outcome, "new": result.new, "duplicate": result.duplicate}


@shared_task(soft_time_limit=90, time_limit=120)
def extract_article(article_id: int) -> str:
    """Extract one new article; an article already past `new` is left alone."""
    from articles.ingest import services
    from articles.models import Article

    article = Article.objects.filter(pk=article_id).first()
    if article is None:
        return "missing"
    return services.article_extract(article=article)


@shared_task(soft_time_limit=60, time_limit=90)
def sweep_unextracted_articles() -> int:
    """Re-enqueue extraction of articles left `new` (their message was lost with the broker)."""
    from articles.ingest import services

    ids = services.articles_unextracted(older_than_seconds=settings.ARTICLE_EXTRACT_STUCK_AFTER_SECONDS)
    for article_id in ids:
        extract_article.delay(article_id)
    return len(ids)


# ======================================================================================
# Summaries: summarize_article(article_id, note="", force=False), sweep_stuck_summaries,
# poll_summary_batches
# ======================================================================================

# Threads-pool workers ignore Celery's time limits, so each model call has its own timeout
# (SUMMARY_MODEL_TIMEOUT_SECONDS, at most two calls per run); these limits cover prefork
# workers. Both stay far below the broker's visibility timeout and the sweeper's stuck age,
# so a slow run is never redelivered (and paid for twice) while it is still going.
SUMMARY_SOFT_TIME_LIMIT = 150
SUMMARY_TIME_LIMIT = 180


@shared_task(bind=True, soft_time_limit=SUMMARY_SOFT_TIME_LIMIT, time_limit=SUMMARY_TIME_LIMIT)
def summarize_article(
    self, article_id: int, note: str = "", force: bool = False, allow_batch: bool = True
) -> dict:
    """Summarise one article (see articles.summarizers.services.article_summarize).

    Retries temporary backend errors (429/529/5xx/timeouts) up to SUMMARY_MAX_ATTEMPTS runs
    with exponential backoff and jitter, never sooner than retry-after; the last run fails
    the article with the reason. Safe to run twice: the claim (status, or summarizing_since
    for a published article, which stays live) is compare-and-set.
    """
    from articles.summarizers import services

    attempt = self.request.retries + 1
    try:
        outcome = services.article_summarize(
            article_id=article_id,
            note=note,
            force=force,
            final_attempt=attempt >= settings.SUMMARY_MAX_ATTEMPTS,
            allow_batch=allow_batch,
        )
    except (OperationalError, InterfaceError) as exc:
        # The database dropped us before the claim: nothing was changed, so a retry is safe
        # (issue #9). After the claim the service releases the article itself (below).
        if self.request.is_eager:
            raise
        delay = services.retry_delay(attempt)
        raise self.retry(countdown=delay, max_retries=settings.SUMMARY_MAX_ATTEMPTS) from exc
    except services.SummaryTemporaryError as exc:
        if self.request.is_eager:
            # No broker (`make run`, tests): an eager retry would raise into whoever enqueued
            # the task. The article is back in `extracted`; the sweeper picks it up later.
            return {"article_id": article_id, "result": "retry-later", "detail": exc.reason}
        raise self.retry(
            countdown=services.retry_delay(attempt, exc.retry_after),
            max_retries=settings.SUMMARY_MAX_ATTEMPTS,
        ) from exc
    return outcome.as_dict()


@shared_task
def sweep_stuck_summaries() -> int:
    """Re-enqueue articles stuck in `summarizing` (worker died) or left waiting in `extracted`."""
    from articles.summarizers import services

    ids = services.summaries_sweep()
    for article_id in ids:
        summarize_article.delay(article_id)
    return len(ids)


@shared_task
def poll_summary_batches() -> int:
    """Store finished Message Batch results, retry failed items alone, submit a new batch."""
    from articles.summarizers import services

    fallback = services.summaries_poll_batches()
    for article_id in fallback:
        summarize_article.delay(article_id, allow_batch=False)
    services.summaries_submit_batch()
    return len(fallback)


# ======================================================================================
# Desk: publish_scheduled
# ======================================================================================


@shared_task(soft_time_limit=60, time_limit=90)
def publish_scheduled() -> list[int]:
    """Publish every in-review article whose scheduled time has passed (idempotent: each
    article is claimed with a conditional UPDATE, so overlapping runs publish it once)."""
    from .desk import publish_scheduled_due

    return publish_scheduled_due()
