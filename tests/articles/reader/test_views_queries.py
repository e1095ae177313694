"""Every reader page costs a bounded number of SQL queries, whatever the data size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from articles.models import Article, Summary
from comments.models import Comment
from tests import factories

pytestmark = pytest.mark.django_db

HOME_MAX_QUERIES = 6
ARTICLE_MAX_QUERIES = 8


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
    story = _world(size, reader)
    if logged_in:
        client.force_login(reader)
    queries, html = _count(client, story.get_absolute_url())
    assert queries <= ARTICLE_MAX_QUERIES, queries
    assert "Related articles" in html and "corrected on" in html


@pytest.mark.parametrize("size", [3, 300])
def test_feeds_search_sitemap_and_corrections_stay_bounded(client, reader, settings, size):
    settings.PAGE_CACHE_SECONDS = 0
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
