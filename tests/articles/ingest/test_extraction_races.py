"""Two extract tasks for one article at once (a redelivered message and the sweeper's) on
PostgreSQL: one extracts, the other leaves it alone, so it is summarised once."""

from __future__ import annotations

import pytest

from articles.ingest import extraction
from articles.models import Article
from tests import factories
from tests.fakes.feed_server import Route
from tests.races import needs_postgres, race

pytestmark = [pytest.mark.services, needs_postgres, pytest.mark.django_db(transaction=True)]

PAGE = (
    "<html lang='en'><head><title>Rail plan</title></head><body><article><h1>Rail plan</h1><p>"
    + " ".join(f"Sentence number {n} about the council's light-rail plan." for n in range(40))
    + "</p></article></body></html>"
)


def test_two_extract_tasks_racing_for_one_article_extract_it_once(feed_server):
    feed_server.routes["/robots.txt"] = Route(body=b"", status=404)
    feed_server.routes["/story"] = Route(body=PAGE.encode(), content_type="text/html; charset=utf-8")
    article = Article.objects.create(
        source=factories.make_source(),
        url=feed_server.url("/story"),
        title="Rail plan",
        status=Article.Status.NEW,
    )

    results = race(
        lambda: extraction.article_extract(article=Article.objects.get(pk=article.pk)),
        lambda: extraction.article_extract(article=Article.objects.get(pk=article.pk)),
    )

    assert sorted(results) == ["extracted", "skipped"], results
    fresh = Article.objects.get(pk=article.pk)
    assert fresh.status == Article.Status.EXTRACTED and fresh.word_count > 80
