"""Story tasks: thin doors onto the grouping services. The extract task runs group_article
right after extraction; group_article chains the summary of the story's lead, or for another
report of the story the weighing of an update (a copy is never summarised). Names stay `articles.tasks.*` like every task of the articles app.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from articles.models import Article
from articles.summarizers.tasks import refresh_story_summary, summarize_article

from . import services


@shared_task(name="articles.tasks.group_article", soft_time_limit=60, time_limit=90)
def group_article(article_id: int) -> dict:
    """Place one article past `new` into a story, then queue its summary when it is an
    original waiting in `extracted`. Safe to run twice: a grouped article keeps its story,
    and the summary task claims the article with a compare-and-set."""
    article = Article.objects.filter(pk=article_id).first()
    if article is None or article.status == Article.Status.NEW:
        return {"article_id": article_id, "skipped": "missing" if article is None else "not extracted"}
    outcome = services.article_group(article=article)
    if outcome.status == Article.Status.EXTRACTED and not outcome.is_copy:
        if Article.objects.due_for_summary().filter(pk=article_id).exists():
            summarize_article.delay_on_commit(article_id)
        else:
            # Another report leads the story: this one may update the story's summary.
            refresh_story_summary.apply_async_on_commit(
                (outcome.story_id,), countdown=settings.STORY_UPDATE_DELAY_SECONDS
            )
    return outcome.as_dict()


@shared_task(name="articles.tasks.sweep_ungrouped_articles", soft_time_limit=60, time_limit=90)
def sweep_ungrouped_articles() -> int:
    """Re-enqueue grouping of articles extracted but left without a story (their worker died
    between extraction and grouping); their summary follows from group_article."""
    ids = services.articles_ungrouped(older_than_seconds=settings.ARTICLE_EXTRACT_STUCK_AFTER_SECONDS)
    for article_id in ids:
        group_article.delay(article_id)
    return len(ids)


@shared_task(name="articles.tasks.prune_story_index", soft_time_limit=300, time_limit=360)
def prune_story_index() -> dict[str, int]:
    """Delete grouping index rows older than STORY_INDEX_KEEP_DAYS (no placement reads them)."""
    return services.story_index_prune(older_than=timedelta(days=settings.STORY_INDEX_KEEP_DAYS))
