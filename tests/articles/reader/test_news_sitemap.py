"""/sitemap-news.xml (articles/reader/news_sitemap.py): Google News' format, validated against its
schema, with only the last two days' published articles."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from lxml import etree

from articles.models import Article
from tests import factories

pytestmark = pytest.mark.django_db

SCHEMAS = Path(__file__).parent / "schemas"
NS = {
    "s": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
}


def sitemap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "sitemap.xsd")))


def news_sitemap(client) -> etree._Element:
    response = client.get("/sitemap-news.xml")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/xml")
    document = etree.fromstring(response.content)
    schema = sitemap_schema()
    assert schema.validate(document), schema.error_log
    return document


def test_the_news_sitemap_validates_and_lists_only_the_last_two_days_published_articles(client):
    fresh = factories.publish(title="Night trains return", ago=timedelta(hours=3))
    edge = factories.publish(title="Ferry timetable changes", ago=timedelta(hours=47))
    factories.publish(title="Old news", ago=timedelta(days=3))
    scheduled = factories.make_published_article(title="Scheduled story")
    Article.objects.filter(pk=scheduled.pk).update(published_on_site_at=timezone.now() + timedelta(hours=1))
    factories.make_review_article(title="Draft story")

    document = news_sitemap(client)

    titles = document.xpath("//news:title/text()", namespaces=NS)
    assert titles == ["Night trains return", "Ferry timetable changes"]  # newest first
    locations = document.xpath("//s:url/s:loc/text()", namespaces=NS)
    assert locations == [f"http://127.0.0.1:8000{a.get_absolute_url()}" for a in (fresh, edge)]


def test_each_item_names_the_publication_its_language_and_its_time_on_the_site(client, settings):
    settings.NEWS_SITEMAP_PUBLICATION_NAME = "The Daily Newsroom"
    article = factories.publish(title="AT&T <and> Ørsted agree a deal", ago=timedelta(minutes=30))

    document = news_sitemap(client)

    [news] = document.xpath("//news:news", namespaces=NS)
    assert news.findtext("news:publication/news:name", namespaces=NS) == "The Daily Newsroom"
    assert news.findtext("news:publication/news:language", namespaces=NS) == "en"
    assert news.findtext("news:title", namespaces=NS) == "AT&T <and> Ørsted agree a deal"
    published = datetime.fromisoformat(news.findtext("news:publication_date", namespaces=NS))
    assert published.tzinfo is not None
    assert published == article.published_on_site_at.replace(microsecond=0)


def test_the_publication_name_defaults_to_the_site_name(client, settings):
    factories.publish(title="Night trains return")
    assert settings.NEWS_SITEMAP_PUBLICATION_NAME == settings.SITE_NAME
    document = news_sitemap(client)
    assert document.xpath("//news:name/text()", namespaces=NS) == [settings.SITE_NAME]


@pytest.mark.parametrize(("code", "expected"), [("en-gb", "en"), ("zh-tw", "zh-tw"), ("pt-br", "pt")])
def test_the_language_is_the_iso_639_code_google_news_asks_for(client, settings, code, expected):
    settings.LANGUAGE_CODE = code
    factories.publish(title="Night trains return")
    assert news_sitemap(client).xpath("//news:language/text()", namespaces=NS) == [expected]


def test_a_document_missing_the_publication_is_refused_by_the_schema():
    broken = etree.fromstring(
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        b'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>https://example.org/a</loc>'
        b"<news:news><news:publication_date>2026-11-24T10:00:00+00:00</news:publication_date>"
        b"<news:title>t</news:title></news:news></url></urlset>"
    )
    assert not sitemap_schema().validate(broken)


@pytest.mark.parametrize("size", [3, 30])
def test_the_news_sitemap_costs_one_query_however_many_items(
    client, settings, size, django_assert_max_num_queries
):
    settings.PAGE_CACHE_SECONDS = 0
    for n in range(size):
        factories.publish(title=f"Story {n}", ago=timedelta(hours=1, minutes=n))
    with django_assert_max_num_queries(1):
        assert client.get("/sitemap-news.xml").status_code == 200


def test_robots_txt_names_the_news_sitemap(client):
    assert "Sitemap: http://127.0.0.1:8000/sitemap-news.xml" in client.get("/robots.txt").content.decode()
