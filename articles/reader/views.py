"""Reader pages. Thin: look up, authorise, render. The queries live in articles/reader/queries.py."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from articles.models import Source, Story, Topic
from newsroom.pagecache import page_cache_canonical, page_cache_params

from . import queries as reader
from . import stories
from .search import MAX_QUERY_LENGTH, search_articles

PAGE_SIZE = 20


def _story_page(request: HttpRequest, rows) -> tuple[object, list[stories.StoryCard]]:
    """One page of a story listing, and its cards."""
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    # get_page() shows the last page for ?page=999 and the first for ?page=abc; the page cache
    # stores only the address that names the page shown (page 1 is the bare path).
    page_cache_canonical(request, page=page.number if page.number > 1 else None)
    return page, stories.story_cards(page.object_list)


@require_GET
@page_cache_params("page")
def home(request: HttpRequest) -> HttpResponse:
    page, cards = _story_page(request, stories.story_listing())
    return render(
        request, "articles/home.html", {"page": page, "cards": cards, "topics": Topic.objects.all()}
    )


@require_GET
@page_cache_params("page")
def topic(request: HttpRequest, slug: str) -> HttpResponse:
    # The chips list every topic anyway: find this one among them rather than query twice.
    topics = list(Topic.objects.all())
    topic = next((t for t in topics if t.slug == slug), None)
    if topic is None:
        raise Http404("No such topic.")
    page, cards = _story_page(request, stories.story_listing(topic=topic))
    context = {"page": page, "cards": cards, "topics": topics, "topic": topic}
    return render(request, "articles/home.html", context)


@require_GET
@page_cache_params("page")
def source(request: HttpRequest, slug: str) -> HttpResponse:
    # By slug, or by id for links that only know the id (a slug may itself be all digits).
    source = Source.objects.filter(slug=slug).first()
    if source is None and slug.isdigit():
        source = Source.objects.filter(pk=int(slug)).first()
    if source is None:
        raise Http404("No such source.")
    page_cache_canonical(request, path=source.get_absolute_url())  # /sources/007/ is an alias
    page, cards = _story_page(request, stories.story_listing(source=source))
    # No topic chips here: they filter the whole site, not this source.
    return render(request, "articles/home.html", {"page": page, "cards": cards, "source": source})


@require_GET
@page_cache_params()
def article(request: HttpRequest, slug: str) -> HttpResponse:
    article = reader.article_for_page(slug)
    if article is None:
        raise Http404("No published article with that address.")
    summary = article.summary
    coverage = stories.coverage_of(article)
    also_covered, also_published = coverage.around(article)
    context = {
        "article": article,
        "summary": summary,
        "coverage": coverage,
        "also_covered": also_covered,
        "also_published": also_published,
        "related": reader.related_articles(article),
        "json_ld": reader.article_json_ld(article, summary),
        "canonical_url": reader.absolute_url(coverage.canonical_path_of(article)),
    }
    return render(request, "articles/article.html", context)


@require_GET
@page_cache_params()
def story(request: HttpRequest, slug: str) -> HttpResponse:
    page = stories.story_for_page(slug)
    if page is None:
        # An editor merged this story into another: its address leads there.
        merged = Story.objects.filter(slug=slug, merged_into__isnull=False).select_related("merged_into")
        if story_row := merged.first():
            return redirect(story_row.merged_into, permanent=True)
        raise Http404("No story on the site with that address.")
    context = {
        "story": page.story,
        "article": page.article,
        "summary": page.summary,
        "coverage": page.coverage,
        "canonical_url": reader.absolute_url(page.coverage.canonical_path),
    }
    return render(request, "articles/story.html", context)


@require_GET
@page_cache_params("q")
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    # The words search_articles() really looks for: "a  b", " a b" and "a b" are one search.
    page_cache_canonical(request, q=" ".join(query.split())[:MAX_QUERY_LENGTH] or None)
    results = search_articles(query=query) if query else []
    return render(request, "articles/search.html", {"query": query, "results": results})


@require_GET
@page_cache_params()
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
        f"Sitemap: {settings.SITE_URL}{reverse('news_sitemap')}",
        "",
    ]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")
