"""The whole pipeline, feed to reader page, through the real tasks on real loopback HTTP:
poll → store → extract → summarise (offline backend) → review or auto-publish."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from articles.ingest import tasks as ingest_tasks
from articles.models import Article, AuditEntry, Summary
from tests import factories
from tests.fakes.feed_server import Route, rss

PARAGRAPHS = [
    "The harbour authority said on Monday that it will electrify all twelve container cranes by 2029.",
    "The project costs 310 million euros and is paid for mostly by a loan from the regional bank.",
    "Diesel cranes produce about a quarter of the port's carbon emissions, according to the authority.",
    "Dock workers' unions welcomed the plan but asked for training on the new equipment before it arrives.",
    "Shipping companies said electric cranes should also reduce noise for people living near the docks.",
    "The first four cranes will be converted next year, and the rest will follow in two stages.",
    "Critics noted that the local grid will need a new substation to supply the extra electricity.",
    "The authority expects the new substation to be approved by the regional energy regulator in spring.",
]
PAGE = (
    "<html><head><title>Port electrifies its cranes</title></head><body><header>Menu</header>"
    "<article><h1>Port electrifies its cranes</h1>"
    + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    + "</article><footer>Copyright</footer></body></html>"
).encode()


@pytest.fixture
def news_site(transactional_db, eager_celery, feed_server):
    """A news site on loopback: a feed with one story, its page, and a robots.txt allowing both."""
    feed_server.routes["/robots.txt"] = Route(body=b"User-agent: *\nAllow: /\n", content_type="text/plain")
    feed_server.routes["/news/cranes"] = Route(body=PAGE, content_type="text/html; charset=utf-8")
    feed_server.routes["/feed.xml"] = Route(
        body=rss([("Port electrifies its cranes", feed_server.url("/news/cranes"))])
    )
    return feed_server


def test_a_new_feed_entry_becomes_a_grounded_summary_waiting_for_review(news_site):
    source = factories.make_source(feed_url=news_site.url("/feed.xml"))

    ingest_tasks.fetch_source.delay(source.id)

    article = Article.objects.get(source=source)
    assert article.status == Article.Status.IN_REVIEW, article.status_reason
    assert article.word_count > 80
    summary = article.latest_summary
    assert summary.kind == Summary.Kind.EXTRACTIVE
    assert summary.grounding_score == 1.0
    for claim in summary.key_points:
        assert all(quote in article.extracted_text for quote in claim["evidence"])
    # Nothing reaches readers before an editor approves it.
    assert not Article.objects.published().exists()


def test_a_trusted_source_auto_publishes_a_fully_grounded_summary(news_site, client):
    source = factories.make_source(feed_url=news_site.url("/feed.xml"), auto_publish=True)

    ingest_tasks.fetch_source.delay(source.id)

    article = Article.objects.get(source=source)
    assert article.status == Article.Status.PUBLISHED
    assert AuditEntry.objects.filter(article=article, action="publish", automatic=True).exists()
    page = client.get(article.get_absolute_url())
    assert page.status_code == 200
    assert escape(article.current_summary.key_takeaway) in page.text


def test_polling_the_same_feed_again_adds_nothing_and_costs_nothing(news_site):
    source = factories.make_source(feed_url=news_site.url("/feed.xml"))
    ingest_tasks.fetch_source.delay(source.id)
    source.refresh_from_db()
    source.next_poll_at = None
    source.save()

    ingest_tasks.fetch_source.delay(source.id)

    assert Article.objects.filter(source=source).count() == 1
    assert Summary.objects.filter(article__source=source).count() == 1
