"""Celery tasks for articles: thin doors onto services. They take ids, re-load rows and
check state, so a redelivered task is harmless. Queues are routed in settings.
"""

from __future__ import annotations

from celery import shared_task  # noqa: F401

# ======================================================================================
# Ingestion: poll_due_sources, fetch_source(source_id), extract_article(article_id)
# ======================================================================================


# ======================================================================================
# Summaries: summarize_article(article_id, note="", force=False), sweep_stuck_summaries,
# poll_summary_batches
# ======================================================================================


# ======================================================================================
# Desk: publish_scheduled
# ======================================================================================


@shared_task(soft_time_limit=60, time_limit=90)
def publish_scheduled() -> list[int]:
    """Publish every in-review article whose scheduled time has passed (idempotent: each
    article is claimed with a conditional UPDATE, so overlapping runs publish it once)."""
    from .desk import publish_scheduled_due

    return publish_scheduled_due()
