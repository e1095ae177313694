"""Reader pages. Thin: look up, authorise, render. The queries live in articles/reader.py."""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import InterfaceError, OperationalError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import reader
from .models import Source, Topic
from .search import search_articles

logger = logging.getLogger(__name__)

PAGE_SIZE = 20


def _card_page(request: HttpRequest, articles) -> object:
    return Paginator(articles, PAGE_SIZE).get_page(request.GET.get("page"))


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    page = _card_page(request, reader.published_cards())
    return render(request, "articles/home.html", {"page": page, "topics": Topic.objects.all()})


@require_GET
def topic(request: HttpRequest, slug: str) -> HttpResponse:
    # The chips list every topic anyway: find this one among them rather than query twice.
    topics = list(Topic.objects.all())
    topic = next((t for t in topics if t.slug == slug), None)
    if topic is None:
        raise Http404("No such topic.")
    page = _card_page(request, reader.published_cards().filter(topics=topic))
    return render(request, "articles/home.html", {"page": page, "topics": topics, "topic": topic})


@require_GET
def source(request: HttpRequest, slug: str) -> HttpResponse:
    # By slug, or by id for links that only know the id (a slug may itself be all digits).
    source = Source.objects.filter(slug=slug).first()
    if source is None and slug.isdigit():
        source = Source.objects.filter(pk=int(slug)).first()
    if source is None:
        raise Http404("No such source.")
    page = _card_page(request, reader.published_cards().filter(source=source))
    # No topic chips here: they filter the whole site, not this source.
    return render(request, "articles/home.html", {"page": page, "source": source})


@require_GET
def article(request: HttpRequest, slug: str) -> HttpResponse:
    article = reader.article_for_page(slug)
    if article is None:
        raise Http404("No published article with that address.")
    summary = article.summary
    context = {
        "article": article,
        "summary": summary,
        "related": reader.related_articles(article),
        "json_ld": reader.article_json_ld(article, summary),
        "canonical_url": reader.absolute_url(article.get_absolute_url()),
    }
    return render(request, "articles/article.html", context)


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    results = search_articles(query=query) if query else []
    return render(request, "articles/search.html", {"query": query, "results": results})


@require_GET
def corrections(request: HttpRequest) -> HttpResponse:
    return render(request, "articles/corrections.html", {"corrections": reader.corrections()})


@require_GET
def robots_txt(request: HttpRequest) -> HttpResponse:
    lines = [
        "User-agent: *",
        "Disallow: /admin/",
        "Disallow: /accounts/",
        "Disallow: /search/",
        "",
        f"Sitemap: {settings.SITE_URL}{reverse('sitemap')}",
        "",
    ]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the cache answer; 503 naming the part that does not."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not healthy", whatever the driver raised
        logger.warning("Health check: database failing: %s", exc)
        checks["database"] = f"failing: {exc.__class__.__name__}"
    try:
        cache.set("healthz:probe", "1", timeout=10)
        if cache.get("healthz:probe") != "1":
            raise RuntimeError("value did not round-trip")
        checks["cache"] = "ok"
    except Exception as exc:
        logger.warning("Health check: cache failing: %s", exc)
        checks["cache"] = f"failing: {exc.__class__.__name__}"
    failing = [name for name, state in checks.items() if state != "ok"]
    body = {"status": "fail" if failing else "ok", "failing": failing, "checks": checks}
    return JsonResponse(body, status=503 if failing else 200)


# --- Error pages --------------------------------------------------------------------------
# Rendered without context processors or database access: they must work when those fail.


def _error_page(template: str, status: int) -> HttpResponse:
    html = loader.get_template(template).render({"SITE_NAME": settings.SITE_NAME})
    response = HttpResponse(html, status=status)
    if status == 503:
        response["Retry-After"] = "30"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database outage gets the "back soon" 503 page, anything else the 500.

    Only connection-level errors are an outage; an IntegrityError or ProgrammingError is a
    bug and must show (and be logged) as one.
    """
    exc = sys.exc_info()[1]
    if isinstance(exc, OperationalError | InterfaceError):
        return _error_page("503.html", 503)
    return _error_page("500.html", 500)


def bench_ok(request: HttpRequest) -> HttpResponse:
    """The benchmark ceiling: a bare view through the full middleware stack (BENCH_VIEWS=1)."""
    return HttpResponse("ok", content_type="text/plain")
