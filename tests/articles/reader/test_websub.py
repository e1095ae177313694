"""WebSub out (articles/reader/websub.py, receivers.py, tasks.py): a publication pings our hub
(the loopback hub, real HTTP) with every feed the article is in, once the transaction commits;
the hub then fetches fresh feeds. What the feeds themselves say: test_feeds.py."""

from __future__ import annotations

import pytest
from celery.exceptions import Retry

from articles.models import Article
from articles.reader import websub
from articles.reader.tasks import ping_websub_hub
from tests import factories

SITE = "http://127.0.0.1:8000"


@pytest.fixture
def our_hub(websub_hub, settings, eager_celery):
    settings.WEBSUB_HUB_URL = websub_hub.url
    return websub_hub


def review_article(**fields) -> Article:
    article = factories.make_review_article(**fields)
    article.topics.add(factories.make_topic("Transport"), factories.make_topic("Climate"))
    return article


def publish(article: Article) -> None:
    article.publish(article.latest_summary, reason="approved")


@pytest.mark.django_db
def test_an_articles_feeds_are_the_sites_three_and_its_topics():
    article = review_article()
    assert websub.feed_urls(article_id=article.pk) == [
        f"{SITE}/feed/",
        f"{SITE}/feed/atom/",
        f"{SITE}/feed.json",
        f"{SITE}/topics/climate/feed/",
        f"{SITE}/topics/transport/feed/",
    ]


@pytest.mark.django_db
def test_a_publication_pings_the_hub_with_each_feed_once_it_commits(
    our_hub, django_capture_on_commit_callbacks
):
    article = review_article()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        publish(article)
    assert our_hub.pings == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert [ping.url for ping in our_hub.pings] == websub.feed_urls(article_id=article.pk)


@pytest.fixture
def worker_request():
    """Run ping_websub_hub as a worker would (not eagerly), catching the retry it schedules."""
    scheduled: list[dict] = []
    ping_websub_hub.push_request(id="ping-1", retries=0, is_eager=False, called_directly=False)
    original = ping_websub_hub.apply_async
    ping_websub_hub.apply_async = lambda args=None, kwargs=None, **options: scheduled.append(
        {"args": args, **options}
    )
    yield scheduled
    ping_websub_hub.apply_async = original
    ping_websub_hub.pop_request()


def test_a_ping_the_hub_could_not_take_is_retried_later_for_that_feed_alone(our_hub, worker_request):
    urls = [f"{SITE}/feed/", f"{SITE}/feed/atom/", f"{SITE}/feed.json"]
    our_hub.fail_next = [503]
    with pytest.raises(Retry):
        ping_websub_hub.run(urls)
    assert [ping.url for ping in our_hub.pings] == urls[1:]
    [retry] = worker_request
    assert list(retry["args"]) == [[urls[0]]] and retry["countdown"] == 60
    assert ping_websub_hub.run(*retry["args"]) == 1
    assert [ping.url for ping in our_hub.pings] == [*urls[1:], urls[0]]


@pytest.mark.django_db
def test_without_a_broker_a_failed_ping_is_logged_not_raised_into_the_publication(
    our_hub, django_capture_on_commit_callbacks
):
    article = review_article()
    our_hub.fail_next = [503]
    with django_capture_on_commit_callbacks(execute=True):
        publish(article)
    assert len(our_hub.pings) == len(websub.feed_urls(article_id=article.pk)) - 1


@pytest.mark.django_db
def test_a_hub_that_refuses_a_ping_never_fails_the_publication(our_hub, django_capture_on_commit_callbacks):
    article = review_article()
    our_hub.fail_next = [400] * 5
    with django_capture_on_commit_callbacks(execute=True):
        publish(article)
    article.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED
    assert our_hub.pings == []  # refused outright: dropped, not retried


@pytest.mark.django_db
def test_a_correction_and_a_withdrawal_ping_but_moves_off_the_site_do_not(
    our_hub, django_capture_on_commit_callbacks
):
    article = factories.make_article(status=Article.Status.NEW)
    with django_capture_on_commit_callbacks(execute=True):
        article.transition_to(Article.Status.EXTRACTED)
    assert our_hub.pings == []
    published = factories.make_published_article()
    with django_capture_on_commit_callbacks(execute=True):
        published.publish(published.latest_summary, reason="correction")
        published.transition_to(Article.Status.IN_REVIEW, reason="withdrawn")
    assert len(our_hub.pings) == 2 * 3


@pytest.mark.django_db
def test_without_a_hub_nothing_is_pinged(
    websub_hub, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.WEBSUB_HUB_URL = ""
    with django_capture_on_commit_callbacks(execute=True):
        publish(review_article())
    assert websub_hub.pings == []


def test_the_hub_fetches_the_feed_with_the_new_article_not_a_cached_copy(
    our_hub, live_server, settings, client
):
    settings.SITE_URL = live_server.url
    factories.make_published_article(title="Already on the site")
    assert b"Already on the site" in client.get("/feed/").content
    assert client.get("/feed/")["X-Page-Cache"] == "hit"
    article = review_article(title="Council approves the night trains")
    publish(article)  # autocommit: the ping goes out as the publication commits
    fetched = {ping.url: ping for ping in our_hub.pings}
    rss = fetched[f"{live_server.url}/feed/"]
    assert rss.status == 200 and b"Council approves the night trains" in rss.body
    assert b"Council approves the night trains" in fetched[f"{live_server.url}/feed.json"].body
