"""Feeds of published summaries: RSS 2.0, Atom, per-topic RSS, and JSON Feed 1.1.

One item per story (articles/reader/stories.py): the shown article's title and key takeaway
(the lead's, while the lead is on the site) and, when several sources reported it, the list of
sources and the first reporter. Three queries whatever the number of items. Links point at
SITE_URL, the canonical host.

An item's GUID is the story page's absolute URL: a story's slug never changes, so the GUID
stays the same when the lead changes, another article joins or the title is retitled, and
a feed reader shows the story once. Its link is the story's canonical page (the one
article's page while it has one, else the story page). An article that is in no story
(not grouped yet) is an item of its own, identified by its article URL.

Each feed names its own canonical address (rel="self") and, when WEBSUB_HUB_URL is set, our
WebSub hub (rel="hub"; JSON Feed's `hubs`), which articles/reader/websub.py pings on every
publication. The takeaway is plain text: it is escaped where a format declares its field HTML (RSS
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

from articles.models import Topic

from .queries import absolute_url
from .stories import StoryCard, latest_story_cards

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

    def items(self) -> list[StoryCard]:
        return latest_story_cards(FEED_ITEMS)

    def item_title(self, item: StoryCard) -> str:
        return item.article.title

    def item_description(self, item: StoryCard) -> str:
        # RSS readers render <description> as HTML and Atom declares <summary type="html">,
        # so the plain-text takeaway is HTML-escaped here (the XML writer escapes once more):
        # otherwise "5 < 6 GW" opens a tag and "AT&T" an entity in the reader's renderer.
        description = escape(item.article.key_takeaway or "")
        sources = coverage_line(item)
        if update := update_note(item):
            # An updated story is the same item (same GUID, later updated date) led by what changed.
            return f"<p>{escape(update)}</p><p>{description}</p>" + (
                f"<p>{escape(sources)}</p>" if sources else ""
            )
        return f"<p>{description}</p><p>{escape(sources)}</p>" if sources else description

    def item_link(self, item: StoryCard) -> str:
        return absolute_url(canonical_path(item))

    def item_guid(self, item: StoryCard) -> str:
        return story_guid(item)

    def item_guid_is_permalink(self, item: StoryCard) -> bool:
        return True

    def item_pubdate(self, item: StoryCard) -> datetime:
        return item.article.published_on_site_at

    def item_updateddate(self, item: StoryCard) -> datetime:
        return max(item.latest, item.article.corrected_at or item.latest)

    def item_author_name(self, item: StoryCard) -> str:
        return item.article.source.name

    def item_categories(self, item: StoryCard) -> list[str]:
        return [topic.name for topic in item.article.topics.all()]


def update_note(item: StoryCard) -> str:
    """ "Updated: …" when the summary readers see is an update of the story, else ""."""
    line = getattr(item.article, "update_line", "") or ""
    return _("Updated: %(line)s") % {"line": line} if line else ""


def story_guid(item: StoryCard) -> str:
    """The story page's URL: stable for the story's life (see the module docstring)."""
    story = item.story
    return absolute_url(story.get_absolute_url() if story is not None else item.article.get_absolute_url())


def canonical_path(item: StoryCard) -> str:
    return item.coverage.canonical_path or item.article.get_absolute_url()


def coverage_line(item: StoryCard) -> str:
    """ "Reported by 3 sources: A, B, C. First reported by A." when more than one source did."""
    coverage = item.coverage
    if coverage.source_count < 2 or coverage.first is None:
        return ""
    return _("Reported by %(n)d sources: %(names)s. First reported by %(first)s.") % {
        "n": coverage.source_count,
        "names": ", ".join(source.name for source in coverage.sources),
        "first": coverage.first.source.name,
    }


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

    def items(self, obj: Topic) -> list[StoryCard]:
        return latest_story_cards(FEED_ITEMS, topic=obj)


@require_GET
def json_feed(request: HttpRequest) -> JsonResponse:
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/) of the latest summaries."""
    items: list[dict[str, Any]] = []
    for card in latest_story_cards(FEED_ITEMS):
        article = card.article
        takeaway = article.key_takeaway or ""
        sources = coverage_line(card)
        item: dict[str, Any] = {
            "id": story_guid(card),
            "url": absolute_url(canonical_path(card)),
            "external_url": article.url,
            "title": article.title,
            "content_text": "\n\n".join(part for part in (update_note(card), takeaway, sources) if part),
            "summary": takeaway,
            "date_published": article.published_on_site_at.isoformat(),
            "authors": [{"name": source.name} for source in card.coverage.sources],
            "tags": [topic.name for topic in article.topics.all()],
        }
        modified = max(card.latest, article.corrected_at or card.latest)
        if modified != article.published_on_site_at:
            item["date_modified"] = modified.isoformat()
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
