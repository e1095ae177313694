"""Every reader page costs a bounded number of SQL queries, whatever the data size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from articles.models import Article, Story, Summary
from comments.models import Comment
from tests import factories

pytestmark = pytest.mark.django_db

# Anonymous / logged in (the session and the user cost a query each): listings 5 / 7, the
# article page 8 / 11, the story page 5 / 7 (each with the story's timeline and follow-ups).
HOME_MAX_QUERIES = 7
ARTICLE_MAX_QUERIES = 11
STORY_MAX_QUERIES = 7


def _world(size: int, reader) -> Article:
    """`size` published articles over a few sources and topics, with comments and corrections."""
    topics = [factories.make_topic(f"Topic {n}") for n in range(4)]
    sources = [factories.make_source() for _ in range(3)]
    articles = [
        factories.make_published_article(source=sources[n % 3], title=f"Story number {n}")
        for n in range(size)
    ]
    through = Article.topics.through
    through.objects.bulk_create(
        [through(article_id=a.pk, topic_id=topics[n % 4].pk) for n, a in enumerate(articles)]
        + [through(article_id=a.pk, topic_id=topics[(n + 1) % 4].pk) for n, a in enumerate(articles)]
    )
    Comment.objects.bulk_create(
        [Comment(article=a, author=reader, body=f"Comment {k}") for a in articles for k in range(2)]
    )
    story = articles[0]
    second = Summary.create_version(article=story, **factories.summary_fields(kind="editor", producer="E"))
    story.publish(second)
    return story


def _count(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    assert response.get("X-Page-Cache") != "hit", "measure the uncached page"
    return len(queries), response.content.decode()


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "reader"])
@pytest.mark.parametrize("size", [3, 300])
def test_listing_pages_stay_within_the_query_budget(client, reader, settings, size, logged_in):
    settings.PAGE_CACHE_SECONDS = 0
    settings.FRAGMENT_CACHE_SECONDS = 0  # measure the whole build, not a stored fragment
    story = _world(size, reader)
    if logged_in:  # the session and the user cost a query each
        client.force_login(reader)
    for url in ["/", "/?page=2", "/topics/topic-1/", f"/sources/{story.source.slug}/"]:
        queries, html = _count(client, url)
        assert queries <= HOME_MAX_QUERIES, (url, queries)
    queries, html = _count(client, "/")
    assert "2 comments" in html


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "reader"])
@pytest.mark.parametrize("size", [3, 300])
def test_the_article_page_stays_within_the_query_budget(client, reader, settings, size, logged_in):
    settings.PAGE_CACHE_SECONDS = 0
    settings.FRAGMENT_CACHE_SECONDS = 0  # measure the whole build, not a stored fragment
    story = _world(size, reader)
    if logged_in:
        client.force_login(reader)
    queries, html = _count(client, story.get_absolute_url())
    assert queries <= ARTICLE_MAX_QUERIES, queries
    assert "Related articles" in html and "corrected on" in html


@pytest.mark.parametrize("size", [3, 300])
def test_feeds_search_sitemap_and_corrections_stay_bounded(client, reader, settings, size):
    settings.PAGE_CACHE_SECONDS = 0
    settings.FRAGMENT_CACHE_SECONDS = 0  # measure the whole build, not a stored fragment
    _world(size, reader)
    for url in [
        "/feed/",
        "/feed/atom/",
        "/feed.json",
        "/topics/topic-1/feed/",
        "/search/?q=story",
        "/corrections/",
    ]:
        queries, _ = _count(client, url)
        assert queries <= 6, (url, queries)
    queries, _ = _count(client, "/sitemap.xml")
    assert queries <= 6


def _story_world(stories: int, members: int = 4) -> list[Story]:
    """`stories` stories on the site, each of `members` articles from as many sources: two
    summaries on the site (topics, comments), a report not summarised, the rest copies."""
    topic = factories.make_topic("Transport")
    made = []
    for n in range(stories):
        story = factories.make_story(title=f"Story {n}")
        first = factories.make_published_article(story=story, title=f"Story {n}, first summary")
        second = factories.make_published_article(story=story, title=f"Story {n}, second summary")
        first.topics.add(topic)
        second.topics.add(topic)
        factories.make_article(story=story, title=f"Story {n}, not summarised")
        for k in range(members - 3):
            factories.make_article(
                story=story, duplicate_of=first, url=f"https://copies.example.com/{story.pk}/{k}"
            )
        story.refresh_from_db()
        made.append(story)
    return made


def _counts(client, urls: list[str]) -> dict[str, int]:
    return {url: _count(client, url)[0] for url in urls}


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "reader"])
def test_story_listings_cost_the_same_for_3_and_35_stories(client, reader, settings, logged_in):
    settings.PAGE_CACHE_SECONDS = 0
    settings.FRAGMENT_CACHE_SECONDS = 0  # measure the whole build, not a stored fragment
    if logged_in:
        client.force_login(reader)
        client.get("/")  # the first request stores the user in the cache (accounts/cached_user.py)
    measured = []
    for size in (3, 35):
        Story.objects.all().delete()
        Article.objects.all().delete()
        stories = _story_world(size)
        source = stories[0].lead.source
        urls = ["/", "/topics/transport/", f"/sources/{source.slug}/"]
        counts = _counts(client, urls)
        assert all(n <= HOME_MAX_QUERIES for n in counts.values()), counts
        measured.append(list(counts.values()))
    assert measured[0] == measured[1]
    queries, html = _count(client, "/?page=2")
    assert queries <= HOME_MAX_QUERIES and html.count('class="card"') == 15
    assert "4 sources" in html


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "reader"])
def test_the_story_page_costs_the_same_for_4_and_40_articles(client, reader, settings, logged_in):
    settings.PAGE_CACHE_SECONDS = 0
    settings.FRAGMENT_CACHE_SECONDS = 0  # measure the whole build, not a stored fragment
    if logged_in:
        client.force_login(reader)
        client.get("/")  # the first request stores the user in the cache (accounts/cached_user.py)
    measured = []
    for members in (4, 40):
        (story,) = _story_world(1, members=members)
        queries, html = _count(client, story.get_absolute_url())
        assert queries <= STORY_MAX_QUERIES, queries
        assert f"{members} sources" in html
        measured.append(queries)
    assert measured[0] == measured[1]


@pytest.mark.parametrize("members", [4, 40])
def test_an_article_page_in_a_big_story_stays_within_the_query_budget(client, reader, settings, members):
    settings.PAGE_CACHE_SECONDS = 0
    settings.FRAGMENT_CACHE_SECONDS = 0  # measure the whole build, not a stored fragment
    client.force_login(reader)
    (story,) = _story_world(1, members=members)
    queries, html = _count(client, story.lead.get_absolute_url())
    assert queries <= ARTICLE_MAX_QUERIES, queries
    assert f"({members} sources)" in html


@pytest.mark.parametrize("size", [3, 35])
def test_story_feeds_and_the_sitemap_stay_bounded(client, settings, size):
    settings.PAGE_CACHE_SECONDS = 0
    settings.FRAGMENT_CACHE_SECONDS = 0  # measure the whole build, not a stored fragment
    _story_world(size)
    counts = _counts(
        client, ["/feed/", "/feed/atom/", "/feed.json", "/topics/transport/feed/", "/sitemap.xml"]
    )
    assert all(n <= 6 for n in counts.values()), counts


def _cited_story(n: int) -> tuple[Story, Article]:
    """A story of `n` sources on the site whose lead carries a story summary citing all of them
    (with a disagreement), `n` timeline entries, and `n` follow-ups each way."""
    story = factories.make_story(title=f"Cited story of {n}")
    members = [factories.publish(title=f"Report {k} of {n}", story=story) for k in range(n)]
    lead = members[0]
    disagreement = {"fact": "the count", "claims": [{"source": 1, "says": "1"}, {"source": n, "says": "2"}]}
    factories.publish_story_summary(lead, members, update_line="More sources.", disagreements=[disagreement])
    for k in range(n):
        factories.make_story_update(story, f"Development {k}")
        factories.make_follow_up(story, answered_by=factories.publish(title=f"Later {k} of {n}").story)
        factories.make_follow_up(factories.publish(title=f"Earlier {k} of {n}").story, answered_by=story)
    return story, lead


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "reader"])
def test_story_and_article_pages_cost_the_same_for_1_and_10_sources_and_timeline_entries(
    client, reader, settings, logged_in
):
    settings.PAGE_CACHE_SECONDS = 0
    settings.FRAGMENT_CACHE_SECONDS = 0  # measure the whole build, not a stored fragment
    if logged_in:
        client.force_login(reader)
        client.get("/")  # the first request stores the reader's cached user row
    measured = []
    for n in (1, 10):
        story, lead = _cited_story(n)
        story_queries, story_html = _count(client, story.get_absolute_url())
        article_queries, article_html = _count(client, lead.get_absolute_url())
        for html in (story_html, article_html):
            assert html.count("Development ") == n and html.count("Follow-up: <a") == n
            assert html.count("Follows up: <a") == n and "Sources differ" in html
            assert f"Checked against {n} source" in html
        assert story_queries <= STORY_MAX_QUERIES and article_queries <= ARTICLE_MAX_QUERIES
        measured.append((story_queries, article_queries))
    assert measured[0] == measured[1]
