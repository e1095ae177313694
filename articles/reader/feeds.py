"""Feeds of published summaries: RSS 2.0, Atom, per-topic RSS, and JSON Feed 1.1.

Each feed names its own canonical address (rel="self") and, when WEBSUB_HUB_URL is set, our
WebSub hub (rel="hub"; JSON Feed's `hubs`), which articles/reader/websub.py pings on every
publication. Items are cards (articles/reader/queries.py): the key takeaway and topics come with the
article in two queries, whatever the number of items. Links point at SITE_URL, the canonical
host. The takeaway is plain text: it is escaped where a format declares its field HTML (RSS
<description>, Atom <summary type="html">) and sent as-is where the field is text (JSON Feed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from articles.models import Article, Topic

from .queries import absolute_url, published_cards

FEED_ITEMS = 50


class HubRssFeed(Rss201rev2Feed):
    """RSS 2.0 with <atom:link rel="hub"> beside Django's <atom:link rel="self">."""

    def add_root_elements(self, handler: Any) -> None:
        super().add_root_elements(handler)
        if self.feed.get("hub_url"):
            handler.addQuickElement("atom:link", None, {"rel": "hub", "href": self.feed["hub_url"]})


class HubAtomFeed(Atom1Feed):
    """Atom with <link rel="hub"> beside Django's <link rel="self">."""

    def add_root_elements(self, handler: Any) -> None:
        super().add_root_elements(handler)
        if self.feed.get("hub_url"):
            handler.addQuickElement("link", "", {"rel": "hub", "href": self.feed["hub_url"]})


class LatestSummariesFeed(Feed):
    feed_type = HubRssFeed
    url_name = "feed"

    def title(self) -> str:
        return _("%(site)s: latest summaries") % {"site": settings.SITE_NAME}

    def link(self) -> str:
        return absolute_url("/")

    def feed_url(self) -> str:
        # The topic WebSub subscribers know the feed by: always on the canonical host.
        return absolute_url(reverse(self.url_name))

    def feed_extra_kwargs(self, obj: Any) -> dict[str, Any]:
        return {"hub_url": settings.WEBSUB_HUB_URL} if settings.WEBSUB_HUB_URL else {}

    def description(self) -> str:
        return _("AI summaries of the news, checked against their sources and reviewed by editors.")

    def items(self) -> list[Article]:
        return list(published_cards()[:FEED_ITEMS])

    def item_title(self, item: Article) -> str:
        return item.title

    def item_description(self, item: Article) -> str:
        # RSS readers render <description> as HTML and Atom declares <summary type="html">,
        # so the plain-text takeaway is HTML-escaped here (the XML writer escapes once more):
        # otherwise "5 < 6 GW" opens a tag and "AT&T" an entity in the reader's renderer.
        return escape(item.key_takeaway or "")

    def item_link(self, item: Article) -> str:
        return absolute_url(item.get_absolute_url())

    def item_guid(self, item: Article) -> str:
        return absolute_url(item.get_absolute_url())

    def item_guid_is_permalink(self, item: Article) -> bool:
        return True

    def item_pubdate(self, item: Article) -> datetime:
        return item.published_on_site_at

    def item_updateddate(self, item: Article) -> datetime:
        return item.corrected_at or item.published_on_site_at

    def item_author_name(self, item: Article) -> str:
        return item.source.name

    def item_categories(self, item: Article) -> list[str]:
        return [topic.name for topic in item.topics.all()]


class LatestSummariesAtomFeed(LatestSummariesFeed):
    feed_type = HubAtomFeed
    url_name = "atom_feed"

    def subtitle(self) -> str:
        return self.description()


class TopicFeed(LatestSummariesFeed):
    def get_object(self, request: HttpRequest, slug: str) -> Topic:
        return get_object_or_404(Topic, slug=slug)

    def title(self, obj: Topic) -> str:
        return _("%(site)s: %(topic)s") % {"site": settings.SITE_NAME, "topic": obj.name}

    def link(self, obj: Topic) -> str:
        return absolute_url(obj.get_absolute_url())

    def feed_url(self, obj: Topic) -> str:
        return absolute_url(reverse("topic_feed", args=[obj.slug]))

    def items(self, obj: Topic) -> list[Article]:
        return list(published_cards().filter(topics=obj)[:FEED_ITEMS])


@require_GET
def json_feed(request: HttpRequest) -> JsonResponse:
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/) of the latest summaries."""
    items: list[dict[str, Any]] = []
    for article in published_cards()[:FEED_ITEMS]:
        url = absolute_url(article.get_absolute_url())
        item: dict[str, Any] = {
            "id": url,
            "url": url,
            "external_url": article.url,
            "title": article.title,
            "content_text": article.key_takeaway or "",
            "summary": article.key_takeaway or "",
            "date_published": article.published_on_site_at.isoformat(),
            "authors": [{"name": article.source.name}],
            "tags": [topic.name for topic in article.topics.all()],
        }
        if article.corrected_at:
            item["date_modified"] = article.corrected_at.isoformat()
        if article.lead_image_url:
            item["image"] = article.lead_image_url
        items.append(item)
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": _("%(site)s: latest summaries") % {"site": settings.SITE_NAME},
        "home_page_url": absolute_url("/"),
        "feed_url": absolute_url(reverse("json_feed")),
        "description": _("AI summaries of the news, checked against their sources and reviewed by editors."),
        "language": settings.LANGUAGE_CODE,
        "items": items,
    }
    if settings.WEBSUB_HUB_URL:
        feed["hubs"] = [{"type": "WebSub", "url": settings.WEBSUB_HUB_URL}]
    return JsonResponse(
        feed, content_type="application/feed+json; charset=utf-8", json_dumps_params={"ensure_ascii": False}
    )
