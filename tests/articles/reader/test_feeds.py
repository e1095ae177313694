"""Feeds and the sitemap, parsed back with real parsers: only published articles appear."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from html.parser import HTMLParser

import feedparser
import pytest
from django.utils import timezone

from articles.models import Article, Summary, Topic
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(editor):
    transport = factories.make_topic("Transport")
    rail = factories.make_published_article(approved_by=editor, title="Council approves light-rail line")
    rail.topics.add(transport)
    ferry = factories.make_published_article(title="Ferry timetable changes")
    draft = factories.make_article(title="Draft story", status=Article.Status.IN_REVIEW)
    Summary.create_version(article=draft, **factories.summary_fields())
    draft.topics.add(transport)
    rejected = factories.make_article(title="Rejected story", status=Article.Status.REJECTED)
    scheduled = factories.make_published_article(title="Scheduled story")
    scheduled.published_on_site_at = timezone.now() + timedelta(hours=3)
    scheduled.save(update_fields=["published_on_site_at"])
    scheduled.topics.add(transport)
    return {"published": [rail, ferry], "hidden": [draft, rejected, scheduled]}


@pytest.mark.parametrize("url", ["/feed/", "/feed/atom/"])
def test_site_feeds_parse_and_list_only_published_summaries(client, world, url):
    response = client.get(url)
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == ("rss20" if url == "/feed/" else "atom10")
    titles = {entry.title for entry in parsed.entries}
    assert titles == {a.title for a in world["published"]}
    rail = next(e for e in parsed.entries if e.title == "Council approves light-rail line")
    assert rail.link == "http://127.0.0.1:8000" + world["published"][0].get_absolute_url()
    assert "2.4 billion dollar light-rail line" in rail.summary
    assert [t.term for t in rail.tags] == ["Transport"]


def test_topic_feed_lists_that_topics_published_articles(client, world):
    parsed = feedparser.parse(client.get("/topics/transport/feed/").content)
    assert not parsed.bozo
    assert [e.title for e in parsed.entries] == ["Council approves light-rail line"]
    assert "Transport" in parsed.feed.title


def test_json_feed_is_valid_json_feed_1_1(client, world):
    response = client.get("/feed.json")
    assert response["Content-Type"].startswith("application/feed+json")
    feed = json.loads(response.content)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] and feed["home_page_url"] and feed["feed_url"].endswith("/feed.json")
    assert {item["title"] for item in feed["items"]} == {a.title for a in world["published"]}
    for item in feed["items"]:
        # Required: id (string); at least one of content_html/content_text.
        assert isinstance(item["id"], str) and item["id"]
        assert item["content_text"]
        assert item["url"].startswith("http://127.0.0.1:8000/a/")
        assert timezone.datetime.fromisoformat(item["date_published"]).tzinfo is not None


def test_sitemap_lists_every_published_article_and_nothing_unpublished(client, world):
    response = client.get("/sitemap.xml")
    root = ET.fromstring(response.content)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locations = {loc.text for loc in root.findall("s:url/s:loc", ns)}
    for article in world["published"]:
        assert "http://127.0.0.1:8000" + article.get_absolute_url() in locations
    for article in world["hidden"]:
        assert not any(article.slug in loc for loc in locations)
    assert "http://127.0.0.1:8000/" in locations
    assert "http://127.0.0.1:8000/topics/transport/" in locations
    assert len([loc for loc in locations if "/a/" in loc]) == 2


TRICKY_TAKEAWAY = 'AT&T & Ørsted … "5 < 6 GW" <b>not bold</b> &amp; more'
TRICKY_TITLE = 'AT&T & Ørsted agree "5 < 6 GW" deal'


class _Text(HTMLParser):
    """What a feed reader shows for an HTML field: its text, entities decoded, tags dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _as_shown(detail) -> str:
    if detail.type == "text/plain":
        return detail.value
    assert detail.type in ("text/html", "application/xhtml+xml"), detail.type
    text = _Text()
    text.feed(detail.value)
    text.close()
    return "".join(text.parts)


@pytest.mark.parametrize("url", ["/feed/", "/feed/atom/", "/topics/energy/feed/"])
def test_feed_readers_show_takeaways_and_titles_with_markup_characters_exactly_as_written(client, url):
    topic = Topic.objects.create(name="Energy", slug="energy")
    article = factories.make_published_article(title=TRICKY_TITLE)
    article.topics.add(topic)
    Summary.objects.filter(article=article).update(key_takeaway=TRICKY_TAKEAWAY)

    parsed = feedparser.parse(client.get(url).content)

    assert not parsed.bozo, parsed.get("bozo_exception")
    (entry,) = parsed.entries
    assert _as_shown(entry.summary_detail) == TRICKY_TAKEAWAY
    assert _as_shown(entry.title_detail) == TRICKY_TITLE


def test_the_json_feed_carries_takeaways_with_markup_characters_as_plain_text(client):
    article = factories.make_published_article(title=TRICKY_TITLE)
    Summary.objects.filter(article=article).update(key_takeaway=TRICKY_TAKEAWAY)

    (item,) = json.loads(client.get("/feed.json").content)["items"]

    assert item["content_text"] == item["summary"] == TRICKY_TAKEAWAY
    assert item["title"] == TRICKY_TITLE
    assert "content_html" not in item


# --- Stories ---------------------------------------------------------------------------------

STORY_FEEDS = ["/feed/", "/feed/atom/", "/topics/transport/feed/"]


@pytest.fixture
def uncached(settings):
    # The tests change stories between requests in one transaction: no on-commit invalidation.
    settings.PAGE_CACHE_SECONDS = 0


def _story_guid(story) -> str:
    return "http://127.0.0.1:8000" + story.get_absolute_url()


def _morning_post_report(story, *, takeaway: str, live: float):
    """The Post's report of the light-rail vote, six hours before the fixture's, in `story`."""
    from .conftest import publish_in

    return publish_in(
        story,
        source=factories.make_source(name="Morning Post"),
        title="Post: light rail approved overnight",
        takeaway=takeaway,
        reported=6,
        live=live,
    )


def _raw_guid(url: str, guid: str) -> bytes:
    """How the story's GUID is written in the feed's bytes."""
    if url.endswith(".json"):
        return f'"id": "{guid}"'.encode()
    if "atom" in url:
        return f"<id>{guid}</id>".encode()
    return f'<guid isPermaLink="true">{guid}</guid>'.encode()


@pytest.mark.parametrize("url", [*STORY_FEEDS, "/feed.json"])
def test_every_feed_carries_a_story_once_whatever_its_number_of_articles(client, rail, uncached, url):
    factories.publish(title="Ferry timetable changes", topics=[rail.topic])
    guid = _story_guid(rail.story)

    content = client.get(url).content

    # The bytes: one item for the four articles, showing the summary that stands for the story.
    assert content.count(_raw_guid(url, guid)) == 1
    assert content.count(rail.gazette.title.encode()) == 1
    assert rail.tribune.title.encode() not in content and rail.copy.url.encode() not in content
    # And as a feed reader reads them.
    if url.endswith(".json"):
        items = json.loads(content)["items"]
        ids = [item["id"] for item in items]
        (item,) = [i for i in items if i["id"] == guid]
        assert [a["name"] for a in item["authors"]] == [
            "Wire Service",
            "City Gazette",
            "Harbour Herald",
            "Valley Tribune",
        ]
        shown = item["content_text"]
    else:
        parsed = feedparser.parse(content)
        assert not parsed.bozo, parsed.get("bozo_exception")
        ids = [entry.id for entry in parsed.entries]
        (entry,) = [e for e in parsed.entries if e.id == guid]
        assert entry.link == guid  # two summaries on the site: the story page is the address
        shown = _as_shown(entry.summary_detail)
    assert len(ids) == len(set(ids)) == 2
    assert "The Gazette's summary" in shown
    assert "Reported by 4 sources: Wire Service, City Gazette, Harbour Herald, Valley Tribune." in shown
    assert "First reported by Wire Service." in shown


@pytest.mark.parametrize("url", [*STORY_FEEDS, "/feed.json"])
def test_a_storys_guid_stays_the_same_when_an_article_joins_and_becomes_the_lead(client, rail, uncached, url):

    guid = _story_guid(rail.story)
    before = client.get(url).content
    assert before.count(_raw_guid(url, guid)) == 1

    # An earlier report turns up: it joins the story, becomes its lead and is published.
    earlier = _morning_post_report(rail.story, takeaway="The Post's summary, now the lead's.", live=0)
    earlier.topics.add(rail.topic)
    rail.story.refresh_from_db()
    assert rail.story.lead_id == earlier.pk

    after = client.get(url).content
    assert after.count(_raw_guid(url, guid)) == 1
    if url.endswith(".json"):
        items = json.loads(after)["items"]
        (item,) = [i for i in items if i["id"] == guid]
        assert item["title"] == earlier.title and len(items) == 1
    else:
        parsed = feedparser.parse(after)
        (entry,) = parsed.entries
        assert entry.id == feedparser.parse(before).entries[0].id == guid
        assert entry.title == earlier.title
        assert "The Post's summary, now the lead's." in _as_shown(entry.summary_detail)


@pytest.mark.parametrize("url", [*STORY_FEEDS, "/feed.json"])
def test_after_a_desk_merge_the_kept_story_is_one_item_under_its_own_guid_and_the_merged_one_is_gone(
    client, rail, editor, uncached, url
):
    from articles.desk.stories import story_merge

    # Story B: the same vote, reported earlier by another outlet, grouped apart, on the site.
    merged = factories.make_story(title="Light rail vote")
    earlier = _morning_post_report(merged, takeaway="The Post's summary.", live=0.5)
    earlier.topics.add(rail.topic)
    kept_guid = _story_guid(rail.story)
    merged_guid = _story_guid(merged)
    before = client.get(url).content
    assert before.count(_raw_guid(url, kept_guid)) == before.count(_raw_guid(url, merged_guid)) == 1

    story_merge(story=merged, into=rail.story, by=editor, reason="same vote")

    after = client.get(url).content
    assert after.count(_raw_guid(url, kept_guid)) == 1
    assert merged_guid.encode() not in after
    if url.endswith(".json"):
        ids = [item["id"] for item in json.loads(after)["items"]]
    else:
        parsed = feedparser.parse(after)
        assert not parsed.bozo, parsed.get("bozo_exception")
        ids = [entry.id for entry in parsed.entries]
    # The Post's article now leads the kept story, which keeps the address readers subscribed to.
    rail.story.refresh_from_db()
    assert rail.story.lead_id == earlier.pk
    assert ids == [kept_guid] == [_story_guid(rail.story)]


def test_a_story_with_one_summary_on_the_site_is_an_item_linking_to_that_summary(client, uncached):
    article = factories.make_published_article(title="Bridge closes for repairs")
    factories.make_article(story=article.story, duplicate_of=article, url="https://copy.example.com/b")

    (entry,) = feedparser.parse(client.get("/feed/").content).entries

    assert entry.id == "http://127.0.0.1:8000" + article.story.get_absolute_url()
    assert entry.link == "http://127.0.0.1:8000" + article.get_absolute_url()


def _sitemap(client) -> list[str]:
    root = ET.fromstring(client.get("/sitemap.xml").content)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    return [loc.text for loc in root.findall("s:url/s:loc", ns)]


def test_the_sitemap_lists_story_and_article_pages_once_and_never_a_copy(client, rail, uncached):
    single = factories.make_published_article(title="Bridge closes for repairs")
    factories.make_article(story=single.story, duplicate_of=single, url="https://copy.example.com/b")
    # A summary published before it was found to be a copy: its page points at the original's.
    legacy = factories.make_published_article(title="Repost of the Gazette", story=rail.story)
    Article.objects.filter(pk=legacy.pk).update(duplicate_of=rail.gazette)

    locations = _sitemap(client)

    site = "http://127.0.0.1:8000"
    assert len(locations) == len(set(locations))
    pages = {loc.removeprefix(site) for loc in locations if "/a/" in loc or "/stories/" in loc}
    assert pages == {
        rail.story.get_absolute_url(),  # two summaries of its own: a page of its own
        rail.gazette.get_absolute_url(),
        rail.tribune.get_absolute_url(),
        single.get_absolute_url(),  # its story's page names this one as canonical
    }


# --- WebSub: rel="hub" and rel="self" (articles/reader/websub.py pings the hub) ----------------

HUB = "https://hub.example.net/"


@pytest.mark.parametrize(
    ("url", "element"),
    [("/feed/", "atom:link"), ("/feed/atom/", "link"), ("/topics/transport/feed/", "atom:link")],
)
def test_with_a_hub_set_each_xml_feed_names_the_hub_and_its_own_canonical_address(
    client, world, settings, url, element
):
    settings.WEBSUB_HUB_URL = HUB
    # Whatever host the request came by, the feed names itself on SITE_URL: the topic's address.
    raw = client.get(url, HTTP_HOST="localhost").content.decode()
    assert f'<{element} href="{HUB}" rel="hub"/>' in raw
    assert f'<{element} href="http://127.0.0.1:8000{url}" rel="self"/>' in raw
    parsed = feedparser.parse(raw.encode())
    assert not parsed.bozo, parsed.get("bozo_exception")
    links = {link["rel"]: link["href"] for link in parsed.feed.links if link["rel"] in ("hub", "self")}
    assert links == {"hub": HUB, "self": "http://127.0.0.1:8000" + url}


def test_with_a_hub_set_the_json_feed_lists_it_under_hubs(client, world, settings):
    settings.WEBSUB_HUB_URL = HUB
    feed = json.loads(client.get("/feed.json").content)
    assert feed["hubs"] == [{"type": "WebSub", "url": HUB}]
    assert feed["feed_url"] == "http://127.0.0.1:8000/feed.json"


@pytest.mark.parametrize("url", ["/feed/", "/feed/atom/"])
def test_without_a_hub_feeds_name_none_but_still_their_canonical_address(client, world, settings, url):
    settings.WEBSUB_HUB_URL = ""
    raw = client.get(url, HTTP_HOST="localhost").content
    assert b'rel="hub"' not in raw
    assert f'href="http://127.0.0.1:8000{url}" rel="self"'.encode() in raw
    assert "hubs" not in json.loads(client.get("/feed.json").content)


@pytest.mark.parametrize("url", [*STORY_FEEDS, "/feed.json"])
def test_an_updated_story_is_the_same_item_led_by_its_update_line(client, rail, uncached, url):
    guid = _story_guid(rail.story)
    before = client.get(url).content
    assert b"Updated:" not in before

    factories.publish_story_summary(
        rail.gazette,
        [rail.gazette, rail.tribune],
        by=factories.make_user(staff=True),
        update_line="Police named the driver.",
    )
    content = client.get(url).content

    assert content.count(_raw_guid(url, guid)) == 1  # the same item, not a second one
    if url.endswith(".json"):
        (item,) = [i for i in json.loads(content)["items"] if i["id"] == guid]
        assert item["content_text"].startswith("Updated: Police named the driver.\n\n")
        assert item["date_modified"] > item["date_published"]
    else:
        parsed = feedparser.parse(content)
        assert not parsed.bozo, parsed.get("bozo_exception")
        (entry,) = [e for e in parsed.entries if e.id == guid]
        assert _as_shown(entry.summary_detail).startswith("Updated: Police named the driver.")
