"""Reader pages. Thin: look up, authorise, render. The queries live in articles/reader/queries.py."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.context_processors import csrf
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.nav import account_nav
from articles.models import Source, Story, Topic
from comments.discussion import shared_discussion_for
from newsroom.frozen import frozen
from newsroom.pagecache import page_cache_canonical, page_cache_params

from . import citations, fragments, stories
from . import queries as reader
from .search import results_page

PAGE_SIZE = 20


def _frozen_page(
    request: HttpRequest, template_name: str, csrf_token: object, **values: object
) -> HttpResponse:
    """A page assembled without a template render: the template, rendered once per process with
    stand-ins (newsroom/frozen.py), joined with `values` and the header's account links for this
    reader. The same bytes the template would give; `csrf_token` stays lazy, so a page that shows
    no form (an anonymous reader's) sets no CSRF cookie and stays cacheable."""
    nav = account_nav(request.user, csrf_token)
    return HttpResponse(frozen(template_name, account_nav=nav, **values))


def _story_page(request: HttpRequest, rows) -> tuple[object, list[stories.StoryCard]]:
    """One page of a story listing, and its cards."""
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return page, stories.story_cards(page.object_list)


def _listing(request: HttpRequest, build: Callable[[], tuple[dict, str]]) -> HttpResponse:
    """A listing page from its shared fragment; `build` returns the listing's context and
    title (or raises Http404), and runs only when the fragment is not stored."""
    raw_page = request.GET.get("page") or None

    def build_parts() -> tuple[dict, bool]:
        context, title = build()
        page = context["page"]
        path = context.pop("canonical_path", request.path)
        # get_page() shows the last page for ?page=999 and the first for ?page=abc; only the
        # address that names the page shown (page 1 is the bare path) is stored, here and in
        # the page cache.
        canonical = {"page": page.number if page.number > 1 else None, "path": path}
        parts = {**fragments.listing_parts(context, path=request.path, title=title), "canonical": canonical}
        stated = str(canonical["page"]) if canonical["page"] else None
        return parts, stated == raw_page and path == request.path

    parts = fragments.cached_fragment(
        name="listing", path=request.path, variant=raw_page or "", build=build_parts
    )
    page_cache_canonical(request, **parts["canonical"])
    values = {"title": parts["title"], "head": parts["head"], "content": parts["content"]}
    return _frozen_page(request, "articles/home.html", csrf(request)["csrf_token"], **values)


@require_GET
@page_cache_params("page")
def home(request: HttpRequest) -> HttpResponse:
    def build() -> tuple[dict, str]:
        page, cards = _story_page(request, stories.story_listing())
        return {"page": page, "cards": cards, "topics": list(Topic.objects.all())}, settings.SITE_NAME

    return _listing(request, build)


@require_GET
@page_cache_params("page")
def topic(request: HttpRequest, slug: str) -> HttpResponse:
    def build() -> tuple[dict, str]:
        # The chips list every topic anyway: find this one among them rather than query twice.
        topics = list(Topic.objects.all())
        topic = next((t for t in topics if t.slug == slug), None)
        if topic is None:
            raise Http404("No such topic.")
        page, cards = _story_page(request, stories.story_listing(topic=topic))
        context = {"page": page, "cards": cards, "topics": topics, "topic": topic}
        return context, f"{topic.name} · {settings.SITE_NAME}"

    return _listing(request, build)


@require_GET
@page_cache_params("page")
def source(request: HttpRequest, slug: str) -> HttpResponse:
    def build() -> tuple[dict, str]:
        # By slug, or by id for links that only know the id (a slug may itself be all digits).
        source = Source.objects.filter(slug=slug).first()
        if source is None and slug.isdigit():
            source = Source.objects.filter(pk=int(slug)).first()
        if source is None:
            raise Http404("No such source.")
        page, cards = _story_page(request, stories.story_listing(source=source))
        # No topic chips here: they filter the whole site, not this source. /sources/007/ is
        # an alias of the source's own address.
        context = {
            "page": page,
            "cards": cards,
            "source": source,
            "canonical_path": source.get_absolute_url(),
        }
        return context, f"{source.name} · {settings.SITE_NAME}"

    return _listing(request, build)


@require_GET
@page_cache_params()
def article(request: HttpRequest, slug: str) -> HttpResponse:
    parts = fragments.article_parts(slug)
    if parts is None:
        raise Http404("No published article with that address.")
    csrf_token = csrf(request)["csrf_token"]  # one token for every form on the page, made if used
    discussion = shared_discussion_for(
        parts["discussion"],
        # The article and summary rows only for a reader whose discussion is rendered in full.
        rows=lambda: fragments.article_rows(parts),
        user=request.user,
        request=request,
        csrf_token=csrf_token,
        messages=get_messages(request),
    )
    return _frozen_page(
        request,
        "articles/article.html",
        csrf_token,
        title=f"{parts['title']} · {settings.SITE_NAME}",
        meta=parts["meta"],
        story=parts["story"],
        discussion=discussion,
        after=parts["after"],
    )


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
    canonical_url = reader.absolute_url(page.coverage.canonical_path)
    context = {
        "story": page.story,
        "article": page.article,
        "summary": page.summary,
        "cited": citations.cited(page.summary, page.article),
        "developments": stories.developments(page.story),
        "coverage": page.coverage,
        "canonical_url": canonical_url,
        "json_ld": reader.story_json_ld(page.story, page.article, page.summary, url=canonical_url),
    }
    return render(request, "articles/story.html", context)


@require_GET
@page_cache_params("q", "page")
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    results = results_page(query=query, page=request.GET.get("page"))
    # The words really searched for: "a  b", " a b" and "a b" are one search, one address.
    words = results.words or None
    page_cache_canonical(request, q=words, page=results.number if results.number > 1 and words else None)
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
