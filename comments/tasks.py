"""Comment tasks: thin doors onto comments.services. They take ids and re-load rows."""

from __future__ import annotations

from celery import shared_task

from .models import Comment
from .services import comment_notify_reply


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=5, soft_time_limit=30, time_limit=60)
def notify_reply(comment_id: int) -> bool:
    """Email the parent comment's author about this reply. Safe to re-run: a missing or
    hidden comment sends nothing; a retried SMTP failure may at worst send twice."""
    comment = (
        Comment.objects.select_related("article", "author", "parent__author").filter(pk=comment_id).first()
    )
    if comment is None:
        return False
    return comment_notify_reply(comment=comment)
