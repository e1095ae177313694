"""WebSub out: our feeds name WEBSUB_HUB_URL (feeds.py) and each change to what they list pings
the hub, which then fetches the feeds and pushes them to its subscribers (docs/reader.md).

The ping is `hub.mode=publish` with `hub.url` = one feed URL, one request per feed: the form
every hub understands. articles/reader/receivers.py sends it on commit, through a task.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from articles.models import Topic
from newsroom import websub as protocol

from .queries import absolute_url


def feed_urls(*, article_id: int) -> list[str]:
    """Every feed an article appears in: the site's RSS, Atom and JSON feeds and its topics' feeds."""
    slugs = Topic.objects.filter(articles=article_id).order_by("slug").values_list("slug", flat=True)
    paths = [reverse("feed"), reverse("atom_feed"), reverse("json_feed")]
    paths += [reverse("topic_feed", args=[slug]) for slug in slugs]
    return [absolute_url(path) for path in paths]


def hub_ping(*, feed_url: str) -> None:
    """Tell our hub that `feed_url` changed. Raises newsroom.websub.HubError."""
    protocol.hub_post(settings.WEBSUB_HUB_URL, {"hub.mode": "publish", "hub.url": feed_url})
