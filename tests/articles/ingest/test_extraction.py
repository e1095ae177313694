"""Article extraction through the real path: robots.txt, guarded fetch, trafilatura,
feed-text fallback, thin content and duplicate detection."""

from __future__ import annotations

import json
import statistics
from collections import Counter

import lxml.html
import pytest

from articles.ingest import extraction
from articles.ingest.urls import canonical_url
from articles.models import Article
from tests import factories
from tests.fakes.feed_server import Route, fixtures_dir, serve

FIXTURES = fixtures_dir()
needs_fixtures = pytest.mark.skipif(
    FIXTURES is None, reason="shared fixtures folder ../shared/fixtures is absent"
)
pytestmark = pytest.mark.django_db

LONG_TEXT = " ".join(
    f"Sentence number {i} explains one more detail of the council's new rail plan." for i in range(30)
)
PAGE = f"<html lang='en'><head><title>Rail plan</title></head><body><article><h1>Rail plan</h1><p>{LONG_TEXT}</p></article></body></html>"


@pytest.fixture
def feed_server(settings):
    server_iter = serve(settings)
    server = next(server_iter)
    server.routes["/robots.txt"] = Route(
        body=b"User-agent: *\nDisallow: /private/\n", content_type="text/plain"
    )
    yield server
    next(server_iter, None)


def new_article(url: str, *, feed_summary: str = "", title: str = "") -> Article:
    return Article.objects.create(
        source=factories.make_source(),
        url=url,
        title=title or url,
        slug=f"a-{abs(hash(url))}",
        feed_summary=feed_summary,
        status=Article.Status.NEW,
    )


def word_f1(got: str, expected: str) -> float:
    a, b = Counter(got.lower().split()), Counter(expected.lower().split())
    common = sum((a & b).values())
    if not common:
        return 0.0
    precision, recall = common / sum(a.values()), common / sum(b.values())
    return 2 * precision * recall / (precision + recall)


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


@needs_fixtures
def test_extraction_quality_on_the_fixture_articles(feed_server, capsys):
    """Human-annotated pages: >= 90% of `with` snippets found, >= 90% of `without` absent.
    The others: median word-level F1 against the expected text >= 0.80."""
    found = total_with = absent = total_without = 0
    f1_scores: dict[str, float] = {}
    for folder in sorted(p for p in (FIXTURES / "articles").iterdir() if p.is_dir()):
        feed_server.routes[f"/{folder.name}"] = Route(
            body=(folder / "source.html").read_bytes(), content_type="text/html"
        )
        article = new_article(feed_server.url(f"/{folder.name}"))
        extraction.article_extract(article=article)
        article.refresh_from_db()
        text = article.extracted_text
        assert article.status in (Article.Status.EXTRACTED, Article.Status.FAILED), folder.name
        if folder.name.startswith("trafilatura--"):
            expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
            found += sum(s in text for s in expected.get("with", []))
            total_with += len(expected.get("with", []))
            absent += sum(s not in text for s in expected.get("without", []))
            total_without += len(expected.get("without", []))
        elif (folder / "expected.txt").exists():
            f1_scores[folder.name] = word_f1(text, (folder / "expected.txt").read_text(encoding="utf-8"))
        else:
            gold = lxml.html.fromstring(
                (folder / "expected.html").read_bytes().decode("utf-8")
            ).text_content()
            f1_scores[folder.name] = word_f1(text, gold)
    median_f1 = statistics.median(f1_scores.values())
    with capsys.disabled():
        print(
            f"\nextraction quality: with-snippets found {found}/{total_with} ({found / total_with:.0%}), "
            f"without-snippets absent {absent}/{total_without} ({absent / total_without:.0%}), "
            f"median word F1 {median_f1:.3f} over {len(f1_scores)} pages (min {min(f1_scores.values()):.3f})"
        )
    assert found / total_with >= 0.9
    assert absent / total_without >= 0.9
    assert median_f1 >= 0.80


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "HTTPS://News.Example.ORG:443/a/b?utm_source=x&id=2&a=1#frag",
            "https://news.example.org/a/b?a=1&id=2",
        ),
        ("http://example.org", "http://example.org/"),
        ("http://example.org:8080/x?fbclid=1&gclid=2&ref=hn&mc_cid=3", "http://example.org:8080/x"),
        (
            "https://www.google.com/url?rct=j&sa=t&url=https://example.org/story%3Futm_campaign%3Dz",
            "https://example.org/story",
        ),
        ("javascript:alert(1)", ""),
        ("ftp://example.org/x", ""),
        ("", ""),
    ],
)
def test_canonical_urls_drop_what_does_not_identify_the_page(url, expected):
    assert canonical_url(url) == expected


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
