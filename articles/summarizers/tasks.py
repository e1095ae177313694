"""Summary tasks: thin doors onto the summary workflow, the sweeper and Message Batches.
They take ids and re-load rows; the workflow's claim is a compare-and-set, so running twice
is harmless. Names stay `articles.tasks.*` so messages queued before the code moved still run.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from articles.models import Article

from . import batches, sweeper, updates, workflow

logger = logging.getLogger(__name__)

# Threads-pool workers ignore Celery's time limits, so each model call has its own timeout
# (SUMMARY_MODEL_TIMEOUT_SECONDS, at most two calls per run); these limits cover prefork
# workers. Both stay far below the broker's visibility timeout and the sweeper's stuck age,
# so a slow run is never redelivered (and paid for twice) while it is still going.
SUMMARY_SOFT_TIME_LIMIT = 150
SUMMARY_TIME_LIMIT = 180


@shared_task(
    bind=True,
    name="articles.tasks.summarize_article",
    soft_time_limit=SUMMARY_SOFT_TIME_LIMIT,
    time_limit=SUMMARY_TIME_LIMIT,
)
def summarize_article(
    self, article_id: int, note: str = "", force: bool = False, allow_batch: bool = True
) -> dict:
    """Summarise one article (see articles.summarizers.workflow.article_summarize).

    Retries temporary backend errors (429/529/5xx/timeouts) up to SUMMARY_MAX_ATTEMPTS runs
    with exponential backoff and jitter, never sooner than retry-after; the last run fails
    the article with the reason. Safe to run twice: the claim (status, or summarizing_since
    for a published article, which stays live) is compare-and-set.
    """
    attempt = self.request.retries + 1
    try:
        outcome = workflow.article_summarize(
            article_id=article_id,
            note=note,
            force=force,
            final_attempt=attempt >= settings.SUMMARY_MAX_ATTEMPTS,
            allow_batch=allow_batch,
        )
    except (OperationalError, InterfaceError) as exc:
        # The database dropped us before the claim: nothing was changed, so a retry is safe.
        # After the claim the workflow releases the article itself.
        if self.request.is_eager:
            raise
        delay = workflow.retry_delay(attempt)
        raise self.retry(countdown=delay, max_retries=settings.SUMMARY_MAX_ATTEMPTS) from exc
    except workflow.SummaryTemporaryError as exc:
        if self.request.is_eager:
            # No broker (`make run`, tests): an eager retry would raise into whoever enqueued
            # the task. The article is back in `extracted`; the sweeper picks it up later.
            return {"article_id": article_id, "result": "retry-later", "detail": exc.reason}
        raise self.retry(
            countdown=workflow.retry_delay(attempt, exc.retry_after),
            max_retries=settings.SUMMARY_MAX_ATTEMPTS,
        ) from exc
    if outcome.result in ("summarized", "review"):
        # Reports may have joined the story while this summary was being written.
        try:
            story_id = Article.objects.filter(pk=article_id).values_list("story_id", flat=True).first()
        except (OperationalError, InterfaceError) as exc:
            # The summary is stored; only this check is lost (the next report to join queues it).
            logger.warning("Story refresh after summarising article %s not queued: %s", article_id, exc)
            return outcome.as_dict()
        if story_id is not None and settings.STORY_SUMMARIES:
            refresh_story_summary.apply_async_on_commit(
                (story_id,), countdown=settings.STORY_UPDATE_DELAY_SECONDS
            )
    return outcome.as_dict()


@shared_task(name="articles.tasks.refresh_story_summary", soft_time_limit=60, time_limit=90)
def refresh_story_summary(story_id: int) -> dict:
    """Weigh the reports that joined a story since its summary was written, and rewrite the
    summary when they bring something new (articles.summarizers.updates)."""
    outcome = updates.story_summary_refresh(story_id=story_id)
    if outcome.should_regenerate:
        summarize_article.delay_on_commit(outcome.article_id, force=True)
    return outcome.as_dict()


@shared_task(name="articles.tasks.sweep_stuck_summaries")
def sweep_stuck_summaries() -> int:
    """Re-enqueue articles stuck in `summarizing` (worker died) or left waiting in `extracted`."""
    ids = sweeper.summaries_sweep()
    for article_id in ids:
        summarize_article.delay(article_id)
    return len(ids)


@shared_task(name="articles.tasks.poll_summary_batches")
def poll_summary_batches() -> int:
    """Store finished Message Batch results, retry failed items alone, submit a new batch."""
    fallback = batches.summaries_poll_batches()
    for article_id in fallback:
        summarize_article.delay(article_id, allow_batch=False)
    batches.summaries_submit_batch()
    return len(fallback)
