"""What a publication sets off for stories: the story's open "What to watch" questions follow
the summary that stands for it (followups.story_questions_sync), in a task queued once the
publication commits."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import receiver

from articles.models import Article, article_state_changed

from .tasks import sync_story_questions


@receiver(article_state_changed, sender=Article)
def publication_syncs_open_questions(
    sender: type[Article], article: Article, from_status: str, **kwargs: Any
) -> None:
    """A publication or a correction may bring a new version of the story's summary. A broker
    that cannot take the task never fails the publication (robust); the next publication in
    the story syncs again."""
    if article.status != Article.Status.PUBLISHED or article.story_id is None:
        return
    story_id = article.story_id
    transaction.on_commit(lambda: sync_story_questions.delay(story_id), robust=True)
