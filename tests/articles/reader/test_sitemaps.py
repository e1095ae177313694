"""/sitemap.xml (articles/reader/sitemaps.py, templates/sitemaps/sitemap.xml): valid against the
Sitemap schema, with lastmod carrying the time, so a same-day correction is seen. What it lists:
test_feeds.py."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from lxml import etree

from articles.models import Article
from tests import factories
from tests.articles.reader.test_news_sitemap import NS, sitemap_schema

pytestmark = pytest.mark.django_db


def lastmods(client) -> dict[str, datetime]:
    document = etree.fromstring(client.get("/sitemap.xml").content)
    schema = sitemap_schema()
    assert schema.validate(document), schema.error_log
    return {
        url.findtext("s:loc", namespaces=NS): datetime.fromisoformat(url.findtext("s:lastmod", namespaces=NS))
        for url in document.xpath("//s:url[s:lastmod]", namespaces=NS)
    }


def test_lastmod_is_a_w3c_datetime_with_time_zone_and_a_same_day_correction_moves_it(client, settings):
    settings.PAGE_CACHE_SECONDS = 0  # the correction below is written without the signals
    morning = timezone.now().replace(hour=8, minute=5, second=7, microsecond=0) - timedelta(days=1)
    article = factories.publish(title="Night trains return")
    Article.objects.filter(pk=article.pk).update(published_on_site_at=morning)
    url = f"http://127.0.0.1:8000{article.get_absolute_url()}"

    assert lastmods(client)[url] == morning and lastmods(client)[url].tzinfo is not None

    Article.objects.filter(pk=article.pk).update(corrected_at=morning + timedelta(hours=6))
    assert lastmods(client)[url] == morning + timedelta(hours=6)
