"""/sitemap.xml: the home page, every page of a published summary, the stories with pages of
their own, and every topic. Nothing else, and nothing twice (articles/reader/stories.py):

- an article is listed unless it is a copy of another article on the site (whose page is
  its canonical address); copies, which stay unpublished, never have a page at all;
- a story page is listed only when the story has two or more articles with pages of their
  own: a story with one has that article's page as its canonical address.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from articles.models import Article, Topic

from .stories import articles_with_own_page, stories_with_own_page


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
            articles_with_own_page()
            .only("slug", "published_on_site_at", "corrected_at")
            .order_by("-published_on_site_at", "-pk")
        )

    def lastmod(self, item: Article) -> datetime:
        return item.corrected_at or item.published_on_site_at


class StorySitemap(_SiteUrlSitemap):
    changefreq = "hourly"
    limit = 5000

    def items(self):
        return stories_with_own_page()

    def location(self, item: dict) -> str:
        return reverse("story", args=[item["story__slug"]])

    def lastmod(self, item: dict) -> datetime:
        return item["lastmod"]


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


SITEMAPS = {
    "static": StaticSitemap,
    "stories": StorySitemap,
    "articles": ArticleSitemap,
    "topics": TopicSitemap,
}
