"""The desk home: what an editor needs to see first."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models

from articles.models import Article, ModelCall, Source, Story, Summary
from articles.summarizers import budget

logger = logging.getLogger(__name__)

CELERY_QUEUES = ("default", "ingest", "summaries")


@dataclass
class DeskOverview:
    status_counts: list[tuple[str, str, int]]
    oldest_waiting: Article | None
    spend_today: Decimal
    budget: Decimal
    failed_articles: list[Article]
    failing_sources: list[Source]
    queue_lengths: dict[str, int] | None
    needs_attention: int
    # Stories with at least one article in the review queue (the per-story queue's length).
    stories_waiting: int
    model_calls_today: int
    # Duplicates (same text hash or canonical link, marked at extraction) and copies
    # (near-identical text at another URL, marked by grouping) that arrived today and were never
    # summarised: the pipeline skips them (ArticleQuerySet.due_for_summary), but an editor may
    # still have one summarised, which then made its calls and avoided none.
    copies_today: int
    # Other reports of a story that arrived today: the story's one summary covers them
    # (Article.objects.covered_by_story), so none is summarised on its own.
    covered_today: int

    @property
    def budget_used_percent(self) -> int:
        if not self.budget:
            return 0
        return int(self.spend_today * 100 / self.budget)

    @property
    def average_call_cost(self) -> Decimal | None:
        """Today's spend per model call; None before the day's first call."""
        if not self.model_calls_today:
            return None
        return self.spend_today / self.model_calls_today

    @property
    def copy_savings(self) -> Decimal | None:
        """An estimate: each duplicate or copy never summarised would have cost one call at
        today's average."""
        average = self.average_call_cost
        return None if average is None else average * self.copies_today


def celery_queue_lengths() -> dict[str, int] | None:
    """LLEN of each queue when the broker is Redis; None otherwise or when Redis is down."""
    url = settings.CELERY_BROKER_URL or ""
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis  # only needed on the Redis leg

    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        with client.pipeline() as pipe:
            for name in CELERY_QUEUES:
                pipe.llen(name)
            lengths = pipe.execute()
    except redis.RedisError:
        logger.warning("Could not read Celery queue lengths from Redis.", exc_info=True)
        return None
    return dict(zip(CELERY_QUEUES, (int(n) for n in lengths), strict=True))


def desk_overview(*, now: datetime | None = None) -> DeskOverview:
    today = budget.today_start()
    counts = dict(
        Article.objects.order_by()
        .values_list("status")
        .annotate(n=models.Count("pk"))
        .values_list("status", "n")
    )
    return DeskOverview(
        status_counts=[(value, label, counts.get(value, 0)) for value, label in Article.Status.choices],
        oldest_waiting=Article.objects.in_review()
        .select_related("source")
        .order_by("status_changed_at", "pk")
        .first(),
        # One definition of today's spend: the same figure the budget guard pauses on.
        spend_today=budget.spend_today(),
        budget=settings.SUMMARY_DAILY_BUDGET_USD,
        failed_articles=list(
            Article.objects.filter(status=Article.Status.FAILED)
            .select_related("source")
            .order_by("-status_changed_at")[:20]
        ),
        failing_sources=list(Source.objects.failing().order_by("-consecutive_failures", "name")[:20]),
        queue_lengths=celery_queue_lengths(),
        needs_attention=Article.objects.filter(needs_attention=True).count(),
        stories_waiting=Story.objects.filter(
            models.Exists(Article.objects.awaiting_review().filter(story=models.OuterRef("pk")))
        ).count(),
        model_calls_today=ModelCall.objects.filter(created_at__gte=today).count(),
        copies_today=Article.objects.filter(duplicate_of__isnull=False, fetched_at__gte=today)
        .exclude(models.Exists(Summary.objects.filter(article=models.OuterRef("pk"))))
        .exclude(models.Exists(ModelCall.objects.filter(article=models.OuterRef("pk"))))
        .count(),
        covered_today=Article.objects.covered_by_story().filter(fetched_at__gte=today).count(),
    )
