"""Reader tasks: pinging our WebSub hub after a publication (websub.py)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from newsroom.websub import HubError

from . import websub

log = logging.getLogger(__name__)

PING_MAX_RETRIES = 6


@shared_task(
    name="articles.tasks.ping_websub_hub",
    bind=True,
    max_retries=PING_MAX_RETRIES,
    soft_time_limit=60,
    time_limit=90,
)
def ping_websub_hub(self, feed_urls: list[str]) -> int:
    """Ping WEBSUB_HUB_URL once per feed URL. Feeds the hub could not take for a passing reason
    (unreachable, 429, 5xx) are retried, alone, 1, 2, 4 ... 32 minutes later; a feed it refused
    outright is logged and dropped. Without a broker (`make run`) nothing can come back later:
    those are logged and left to the next publication's ping. A ping sent twice is harmless:
    the hub fetches the feed again. Returns how many pings the hub took."""
    if not settings.WEBSUB_HUB_URL:
        return 0
    retry: list[str] = []
    for feed_url in feed_urls:
        try:
            websub.hub_ping(feed_url=feed_url)
        except HubError as exc:
            log.warning("WebSub hub ping for %s failed: %s", feed_url, exc)
            if exc.retryable:
                retry.append(feed_url)
    if retry and not self.request.is_eager:
        raise self.retry(args=[retry], countdown=60 * 2**self.request.retries)
    return len(feed_urls) - len(retry)
