"""/sitemap.xml: the home page, every published article and every topic. Nothing else."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from articles.models import Article, Topic


class _SiteUrlSitemap(Sitemap):
    # Absolute URLs on SITE_URL, the canonical host, not whatever Host header came in.
    protocol = urlsplit(settings.SITE_URL).scheme or "https"

    def get_domain(self, site=None) -> str:
        return urlsplit(settings.SITE_URL).netloc


class ArticleSitemap(_SiteUrlSitemap):
    changefreq = "daily"
    limit = 5000

    def items(self):
        return (
            Article.objects.published()
            .only("slug", "published_on_site_at", "corrected_at")
            .order_by("-published_on_site_at", "-pk")
        )

    def lastmod(self, item: Article) -> datetime:
        return item.corrected_at or item.published_on_site_at


class TopicSitemap(_SiteUrlSitemap):
    changefreq = "daily"

    def items(self):
        return Topic.objects.filter(articles__in=Article.objects.published()).distinct().order_by("slug")


class StaticSitemap(_SiteUrlSitemap):
    changefreq = "hourly"

    def items(self) -> list[str]:
        return ["home", "corrections"]

    def location(self, item: str) -> str:
        return reverse(item)


SITEMAPS = {"static": StaticSitemap, "articles": ArticleSitemap, "topics": TopicSitemap}
