"""Celery tasks for articles: thin doors onto services. They take ids, re-load rows and
check state, so a redelivered task is harmless. Queues are routed in settings.
"""

from __future__ import annotations

from celery import shared_task  # noqa: F401

# ======================================================================================
# Ingestion: poll_due_sources, fetch_source(source_id), extract_article(article_id)
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


# ======================================================================================
# Summaries: summarize_article(article_id, note="", force=False), sweep_stuck_summaries,
# poll_summary_batches
# ======================================================================================


# ======================================================================================
# Desk: publish_scheduled
# ======================================================================================
