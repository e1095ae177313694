"""What a change to the site's articles sets off besides cache invalidation (invalidation.py):
a ping of our WebSub hub. Loaded by articles/apps.py after invalidation.py, so on commit the
page cache is emptied before the hub is told to fetch the feeds."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver

from articles.models import Article, article_state_changed

from . import websub
from .tasks import ping_websub_hub


@receiver(article_state_changed, sender=Article)
def publication_pings_hub(sender: type[Article], article: Article, from_status: str, **kwargs: Any) -> None:
    """A publication, a correction or a withdrawal changes our feeds: once the transaction
    commits, a task pings the hub with each feed the article is in. A broker that cannot take
    the task never fails the publication (robust)."""
    if not settings.WEBSUB_HUB_URL or Article.Status.PUBLISHED not in (article.status, from_status):
        return
    article_id = article.pk
    transaction.on_commit(lambda: ping_websub_hub.delay(websub.feed_urls(article_id=article_id)), robust=True)
