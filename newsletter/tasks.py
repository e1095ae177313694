"""Celery doors onto newsletter services. They take ids and ISO dates, never rows; running
any of them twice sends nothing twice (the Delivery claim decides)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from . import services


@shared_task
def schedule_digests() -> dict[str, int]:
    """Beat, every 15 minutes: queue due retries and fan out today's deliveries in chunks,
    each sent once the scheduler's writes have committed."""
    plan = services.digest_schedule()
    for delivery_id in plan.retry_ids:
        retry_delivery.delay_on_commit(delivery_id)
    for subscriber_ids, day in plan.chunks:
        deliver_digest_chunk.delay_on_commit(subscriber_ids, day.isoformat())
    return {
        "chunks": len(plan.chunks),
        "retries": len(plan.retry_ids),
        "recovered": plan.recovered,
        "pruned": plan.pruned,
    }


@shared_task
def deliver_digest_chunk(subscriber_ids: list[int], day: str) -> dict[str, dict[str, int]]:
    """Claim and send one chunk (hundreds of subscribers) for local date `day`."""
    report = services.digest_deliver_chunk(subscriber_ids=subscriber_ids, day=dt.date.fromisoformat(day))
    return {"sent": dict(report.sent), "skipped": dict(report.skipped), "failed": dict(report.failed)}


@shared_task
def retry_delivery(delivery_id: int) -> dict[str, dict[str, int]]:
    """Retry one delivery after its backoff; a no-op unless it is still failed and due."""
    report = services.delivery_retry(delivery_id=delivery_id)
    return {"sent": dict(report.sent), "failed": dict(report.failed)}
