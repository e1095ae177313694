"""Desk tasks: publishing at the time an editor scheduled. The name stays
`articles.tasks.publish_scheduled` so messages queued before the code moved still run."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="articles.tasks.publish_scheduled", soft_time_limit=60, time_limit=90)
def publish_scheduled() -> list[int]:
    """Publish every in-review article whose scheduled time has passed (idempotent: each
    article is claimed with a conditional UPDATE, so overlapping runs publish it once)."""
    return services.publish_scheduled_due()
