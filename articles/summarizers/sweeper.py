"""The summaries sweeper: finds articles that would otherwise never be summarised."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone

from articles.models import Article, AuditEntry, StaleState, SummaryBatch

from . import budget

logger = logging.getLogger(__name__)

Status = Article.Status


def _batched_article_ids() -> set[int]:
    ids: set[int] = set()
    for article_ids in SummaryBatch.objects.filter(status="in_progress").values_list(
        "article_ids", flat=True
    ):
        ids.update(article_ids)
    return ids


def summaries_sweep(*, limit: int = 500) -> list[int]:
    """Find articles that would otherwise never be summarised; return the ids to enqueue.

    - Stuck in `summarizing` longer than SUMMARY_STUCK_AFTER_SECONDS (the worker died):
      put back to `extracted`. Articles inside an unfinished Message Batch are not stuck.
    - Waiting in `extracted` that long (a lost message, the budget pause, a retry that never
      ran): enqueue again. Claiming is compare-and-set, so a duplicate task is harmless.
    """
    age = settings.SUMMARY_STUCK_AFTER_SECONDS
    released: list[int] = []
    stuck = Article.objects.stuck_summarizing(age).exclude(pk__in=_batched_article_ids())
    for article in stuck[:limit]:
        # Under the token it read: if a worker moved it meanwhile, it is left alone.
        try:
            article.transition_to(
                Status.EXTRACTED, reason="Re-queued by the sweeper.", token=article.status_changed_at
            )
        except StaleState:
            continue
        released.append(article.pk)
        AuditEntry.record(
            "summarize-sweep",
            article=article,
            from_status=Status.SUMMARIZING,
            to_status=Status.EXTRACTED,
            reason=f"Stuck in summarizing for more than {age} s (worker lost).",
            automatic=True,
        )
    for article in Article.objects.stuck_regenerating(age)[:limit]:
        # A lost live regenerate: clear the claim and tell the desk. Not re-enqueued, since
        # the editor's note to the model is not kept; the editor regenerates again.
        reason = f"A regenerate was lost (worker gone for more than {age} s); regenerate again."
        try:
            article.release_live_claim(article.summarizing_since, needs_attention=True, status_reason=reason)
        except StaleState:
            continue
        AuditEntry.record(
            "summarize-sweep",
            article=article,
            from_status=article.status,
            to_status=article.status,
            reason=reason,
            automatic=True,
        )
    if settings.SUMMARY_BACKEND != "extractive" and budget.budget_exhausted():
        return []  # they would only pause again; the first sweep after midnight picks them up
    cutoff = timezone.now() - timezone.timedelta(seconds=age)
    waiting = (
        Article.objects.due_for_summary().filter(status_changed_at__lt=cutoff).order_by("status_changed_at")
    )
    return released + list(waiting.values_list("pk", flat=True)[: max(0, limit - len(released))])
