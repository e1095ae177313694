"""Ingestion tasks: thin doors onto the ingest services. They take ids, re-load rows and
check state, so a redelivered task is harmless, and they chain the pipeline:
poll → fetch_source → extract_article (→ group_article) → summarize_article. Names stay `articles.tasks.*`
so messages queued before the code moved still run.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from articles.models import Article, Source, WebSubSubscription
from articles.stories.tasks import group_article

from . import extraction, polling, websub


@shared_task(name="articles.tasks.poll_due_sources", soft_time_limit=60, time_limit=90)
def poll_due_sources() -> int:
    """Claim every due source and fan out one fetch_source each. Safe to overlap: a source
    is claimed by a conditional UPDATE, so it is enqueued once per due time."""
    source_ids = polling.sources_claim_due()
    for source_id in source_ids:
        fetch_source.delay(source_id)
    return len(source_ids)


@shared_task(name="articles.tasks.fetch_source", soft_time_limit=120, time_limit=150)
def fetch_source(source_id: int) -> dict:
    """Poll one source and enqueue extraction of its new articles once they are committed.
    Not retried: a failure is recorded and the source's back-off decides the next try."""
    source = Source.objects.filter(pk=source_id, is_active=True, paused_at__isnull=True).first()
    if source is None:
        return {"skipped": True}
    result = polling.source_poll(source=source)
    for article_id in result.new_article_ids:
        extract_article.delay_on_commit(article_id)
    return {"outcome": result.outcome, "new": result.new, "duplicate": result.duplicate}


@shared_task(name="articles.tasks.extract_article", soft_time_limit=90, time_limit=120)
def extract_article(article_id: int) -> str:
    """Extract one new article, then group it into a story in this same task (group_article
    queues the summary of an original; a copy or a duplicate is never summarised). An
    article already past `new` is left alone. Failed extractions are grouped too: every
    article past `new` belongs to a story."""
    article = Article.objects.filter(pk=article_id).first()
    if article is None:
        return "missing"
    outcome = extraction.article_extract(article=article)
    if outcome in ("extracted", "duplicate", "thin-content"):
        # Run inline rather than queued: the article is grouped milliseconds after its
        # extraction commits, before anything can summarise it. A worker lost in between
        # leaves it ungrouped, and sweep_ungrouped_articles picks it up.
        group_article(article_id)
    return outcome


@shared_task(name="articles.tasks.sweep_unextracted_articles", soft_time_limit=60, time_limit=90)
def sweep_unextracted_articles() -> int:
    """Re-enqueue extraction of articles left `new` (their message was lost with the broker)."""
    ids = extraction.articles_unextracted(older_than_seconds=settings.ARTICLE_EXTRACT_STUCK_AFTER_SECONDS)
    for article_id in ids:
        extract_article.delay(article_id)
    return len(ids)


@shared_task(name="articles.tasks.websub_subscriptions", soft_time_limit=60, time_limit=90)
def websub_subscriptions() -> int:
    """Claim every WebSub subscription whose request (first, renewal or retry) is due and fan
    out one websub_subscribe each. Safe to overlap: each is claimed by a conditional UPDATE."""
    subscription_ids = websub.subscriptions_claim_due()
    for subscription_id in subscription_ids:
        websub_subscribe.delay(subscription_id)
    return len(subscription_ids)


@shared_task(name="articles.tasks.websub_subscribe", soft_time_limit=60, time_limit=90)
def websub_subscribe(subscription_id: int) -> str:
    """Send one subscription request to its hub. Not retried here: a failure is recorded and
    its back-off sets when the beat claims it again."""
    subscription = WebSubSubscription.objects.filter(pk=subscription_id).first()
    if subscription is None:
        return "missing"
    return websub.subscription_request(subscription=subscription)
