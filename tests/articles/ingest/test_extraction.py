"""articles/ingest/extraction.py through the real path: robots.txt, guarded fetch, page
extraction, feed-text fallback, thin content, duplicate detection, and which articles the
sweeper picks up. The page extractor's own quality: test_extract.py."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from articles.ingest import extraction
from articles.models import Article
from articles.stories.services import article_group
from tests import factories
from tests.fakes.feed_server import Route

pytestmark = pytest.mark.django_db

LONG_TEXT = " ".join(
    f"Sentence number {i} explains one more detail of the council's new rail plan." for i in range(30)
)
PAGE = f"<html lang='en'><head><title>Rail plan</title></head><body><article><h1>Rail plan</h1><p>{LONG_TEXT}</p></article></body></html>"


def new_article(url: str, *, feed_summary: str = "", title: str = "") -> Article:
    return Article.objects.create(
        source=factories.make_source(),
        url=url,
        title=title or url,
        slug=f"a-{abs(hash(url))}",
        feed_summary=feed_summary,
        status=Article.Status.NEW,
    )


def test_an_article_page_is_extracted_with_its_metadata(feed_server):
    feed_server.routes["/story"] = Route(body=PAGE.encode(), content_type="text/html; charset=utf-8")
    article = new_article(feed_server.url("/story"))
    assert extraction.article_extract(article=article) == "extracted"
    article.refresh_from_db()
    assert article.status == Article.Status.EXTRACTED
    assert "Sentence number 29" in article.extracted_text
    assert article.word_count == len(article.extracted_text.split()) > 80
    assert article.read_time >= 1 and article.content_hash
    assert article.title == "Rail plan" and article.language == "en"


def test_extracting_twice_leaves_the_article_alone(feed_server):
    feed_server.routes["/story"] = Route(body=PAGE.encode(), content_type="text/html")
    article = new_article(feed_server.url("/story"))
    extraction.article_extract(article=article)
    assert extraction.article_extract(article=article) == "skipped"
    assert len(feed_server.hits_for("/story")) == 1


def test_robots_txt_is_honoured_and_cached_per_host_with_the_feed_text_as_fallback(feed_server):
    feed_server.routes["/robots.txt"] = Route(
        body=b"User-agent: *\nDisallow: /private/\n", content_type="text/plain"
    )
    feed_server.routes["/private/a"] = Route(body=PAGE.encode(), content_type="text/html")
    feed_server.routes["/public/b"] = Route(body=PAGE.encode(), content_type="text/html")
    blocked = new_article(feed_server.url("/private/a"), feed_summary=LONG_TEXT + " from the feed")
    allowed = new_article(feed_server.url("/public/b"))
    assert extraction.article_extract(article=blocked) == "extracted"
    extraction.article_extract(article=allowed)
    blocked.refresh_from_db()
    assert feed_server.hits_for("/private/a") == []
    assert "robots.txt disallows" in blocked.status_reason and "feed" in blocked.status_reason
    assert blocked.extracted_text.endswith("from the feed")
    assert len(feed_server.hits_for("/robots.txt")) == 1


def test_an_unreachable_page_falls_back_to_the_feed_content(feed_server):
    article = new_article(feed_server.url("/missing"), feed_summary=LONG_TEXT)
    assert extraction.article_extract(article=article) == "extracted"
    article.refresh_from_db()
    assert "http-error" in article.status_reason and article.word_count > 80


def test_thin_content_is_marked_failed_and_never_summarised(feed_server, django_capture_on_commit_callbacks):
    feed_server.routes["/thin"] = Route(
        body=b"<html><body><p>Too short.</p></body></html>", content_type="text/html"
    )
    article = new_article(feed_server.url("/thin"), feed_summary="Also short.")
    with django_capture_on_commit_callbacks() as callbacks:
        assert extraction.article_extract(article=article) == "thin-content"
    article.refresh_from_db()
    assert article.status == Article.Status.FAILED and article.status_reason.startswith("thin-content")
    assert callbacks == []


def test_identical_text_at_two_urls_is_a_duplicate_of_the_first(
    feed_server, django_capture_on_commit_callbacks
):
    feed_server.routes["/one"] = Route(body=PAGE.encode(), content_type="text/html")
    feed_server.routes["/two"] = Route(body=PAGE.encode(), content_type="text/html")
    first, second = new_article(feed_server.url("/one")), new_article(feed_server.url("/two"))
    extraction.article_extract(article=first)
    with django_capture_on_commit_callbacks() as callbacks:
        assert extraction.article_extract(article=second) == "duplicate"
    second.refresh_from_db()
    assert second.duplicate_of_id == first.pk and second.status == Article.Status.EXTRACTED
    assert callbacks == []
    for article in (first, second):  # the extract task groups each article next
        article_group(article=article)
    assert list(Article.objects.due_for_summary()) == [first]


def test_a_page_whose_rel_canonical_names_a_known_article_is_a_duplicate(feed_server):
    known = factories.make_article(url="https://news.example.org/original")
    page = PAGE.replace(
        "<title>", '<link rel="canonical" href="https://news.example.org/original?utm_medium=rss"><title>'
    )
    feed_server.routes["/syndicated"] = Route(body=page.encode(), content_type="text/html")
    article = new_article(feed_server.url("/syndicated"))
    assert extraction.article_extract(article=article) == "duplicate"
    article.refresh_from_db()
    assert article.duplicate_of_id == known.pk


def test_a_new_rel_canonical_becomes_the_article_url(feed_server):
    page = PAGE.replace("<title>", '<link rel="canonical" href="https://news.example.org/real#x"><title>')
    feed_server.routes["/amp"] = Route(body=page.encode(), content_type="text/html")
    article = new_article(feed_server.url("/amp"))
    extraction.article_extract(article=article)
    article.refresh_from_db()
    assert article.url == "https://news.example.org/real"


def test_an_undated_entry_takes_the_date_from_its_page(feed_server):
    page = PAGE.replace(
        "<title>", '<meta property="article:published_time" content="2025-03-01T10:00:00+00:00"><title>'
    )
    feed_server.routes["/dated"] = Route(body=page.encode(), content_type="text/html")
    article = new_article(feed_server.url("/dated"))
    Article.objects.filter(pk=article.pk).update(published_at=article.fetched_at)
    extraction.article_extract(article=article)
    article.refresh_from_db()
    assert article.published_at.date().isoformat() == "2025-03-01"


def test_an_article_on_a_private_address_is_never_fetched_and_falls_back_to_the_feed(settings):
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = []
    article = new_article("http://10.0.0.5/story", feed_summary=LONG_TEXT)
    assert extraction.article_extract(article=article) == "extracted"
    article.refresh_from_db()
    assert "blocked" in article.status_reason and article.word_count > 80


def test_only_articles_left_new_longer_than_the_stuck_age_are_swept_oldest_first():
    def new_since(seconds: int) -> Article:
        since = timezone.now() - dt.timedelta(seconds=seconds)
        return factories.make_article(status=Article.Status.NEW, status_changed_at=since)

    older = new_since(3600)
    old = new_since(1000)
    new_since(10)  # its extract message is probably still queued
    factories.make_article(status=Article.Status.EXTRACTED)

    assert extraction.articles_unextracted(older_than_seconds=900) == [older.pk, old.pk]
