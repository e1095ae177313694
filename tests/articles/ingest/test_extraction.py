"""articles/ingest/extraction.py through the real path: robots.txt, guarded fetch, page
extraction, feed-text fallback, thin content, duplicate detection, and which articles the
sweeper picks up. The page extractor's own quality: test_extract.py."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from articles.ingest import extraction
from articles.models import Article, AuditEntry
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


# --- TDM reservations (tdmrep.py) ---------------------------------------------------------------

EXCERPT = LONG_TEXT + " as the feed tells it"


def test_a_page_reserving_tdm_by_header_keeps_the_feeds_excerpt_and_is_marked_for_the_desk(feed_server):
    feed_server.routes["/reserved"] = Route(
        body=PAGE.encode(),
        content_type="text/html",
        headers={"tdm-reservation": "1", "tdm-policy": "https://publisher.example/tdm-policy.json"},
    )
    article = new_article(feed_server.url("/reserved"), feed_summary=EXCERPT, title="From the feed")
    assert extraction.article_extract(article=article) == "extracted"
    article.refresh_from_db()
    assert article.extracted_text == EXCERPT
    assert article.status_reason.startswith("TDM reservation (tdm-reservation header)")
    assert "used the feed's content" in article.status_reason
    assert article.title == "From the feed" and article.language == ""  # nothing taken from the page
    entry = AuditEntry.objects.get(article=article, action="tdm-reserved")
    assert entry.automatic and entry.details["policy"] == "https://publisher.example/tdm-policy.json"
    assert feed_server.hits_for("/.well-known/tdmrep.json") == []  # the header decided


def test_a_reservation_in_the_origins_tdmrep_json_is_honoured_by_location_and_fetched_once(feed_server):
    rules = [
        {"location": "/open/*", "tdm-reservation": 0},
        {"location": "/*", "tdm-reservation": 1, "tdm-policy": "https://publisher.example/policy"},
    ]
    feed_server.routes["/.well-known/tdmrep.json"] = Route(
        body=json.dumps(rules).encode(), content_type="application/json"
    )
    for path in ("/open/story", "/news/one", "/news/two"):
        feed_server.routes[path] = Route(body=PAGE.encode(), content_type="text/html")
    open_story = new_article(feed_server.url("/open/story"))
    reserved = [new_article(feed_server.url(p), feed_summary=EXCERPT) for p in ("/news/one", "/news/two")]
    extraction.article_extract(article=open_story)
    for article in reserved:
        extraction.article_extract(article=article)
    open_story.refresh_from_db()
    assert "Sentence number 29" in open_story.extracted_text and open_story.title == "Rail plan"
    for article in reserved:
        article.refresh_from_db()
        assert article.extracted_text == EXCERPT and "/.well-known/tdmrep.json" in article.status_reason
    assert len(feed_server.hits_for("/.well-known/tdmrep.json")) == 1  # cached per origin


def test_a_reserved_page_whose_feed_has_no_text_is_thin_and_says_why(feed_server):
    page = PAGE.replace("<title>", '<meta name="tdm-reservation" content="1"><title>')
    feed_server.routes["/meta"] = Route(body=page.encode(), content_type="text/html")
    article = new_article(feed_server.url("/meta"))
    assert extraction.article_extract(article=article) == "thin-content"
    article.refresh_from_db()
    assert article.status == Article.Status.FAILED
    assert "TDM reservation (tdm-reservation meta tag)" in article.status_reason


def test_a_page_that_waives_tdm_is_extracted_as_usual(feed_server):
    feed_server.routes["/.well-known/tdmrep.json"] = Route(
        body=b'[{"location": "/", "tdm-reservation": 1}]', content_type="application/json"
    )
    feed_server.routes["/waived"] = Route(
        body=PAGE.encode(), content_type="text/html", headers={"tdm-reservation": "0"}
    )
    article = new_article(feed_server.url("/waived"), feed_summary=EXCERPT)
    extraction.article_extract(article=article)
    article.refresh_from_db()
    assert "Sentence number 29" in article.extracted_text and "TDM" not in article.status_reason
    assert not AuditEntry.objects.filter(article=article).exists()
