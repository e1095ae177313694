"""/sitemap-news.xml: the Google News sitemap (https://developers.google.com/search/docs/crawling-indexing/sitemaps/news-sitemap).

Only articles published on the site in the last two days, newest first, at most 1,000 (both
Google's rules), each with the publication's name (NEWS_SITEMAP_PUBLICATION_NAME), its
language, the time it went on the site and its title. One query.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from articles.models import Article
from newsroom.pagecache import page_cache_params

from .queries import absolute_url

NEWS_WINDOW = timedelta(days=2)
NEWS_MAX_ITEMS = 1000


def news_language() -> str:
    """The ISO 639 code Google News asks for: the language without its region, except for the
    two Chinese scripts it names by region (zh-cn, zh-tw)."""
    code = settings.LANGUAGE_CODE.lower()
    return code if code in ("zh-cn", "zh-tw") else code.split("-")[0]


@require_GET
@page_cache_params()
def news_sitemap(request: HttpRequest) -> HttpResponse:
    since = timezone.now() - NEWS_WINDOW
    articles = (
        Article.objects.published()
        .filter(published_on_site_at__gte=since)
        .only("slug", "title", "published_on_site_at")
        .order_by("-published_on_site_at", "-pk")[:NEWS_MAX_ITEMS]
    )
    context = {
        "items": [(absolute_url(a.get_absolute_url()), a) for a in articles],
        "publication_name": settings.NEWS_SITEMAP_PUBLICATION_NAME,
        "language": news_language(),
    }
    return render(request, "sitemaps/news.xml", context, content_type="application/xml; charset=utf-8")
