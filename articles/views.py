"""Reader pages. Thin: look up, authorise, render."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from .models import Article, Source, Topic

PAGE_SIZE = 20


def _published():
    return Article.objects.published().select_related("source").prefetch_related("topics")


def home(request: HttpRequest) -> HttpResponse:
    page = Paginator(_published().order_by("-published_on_site_at"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "articles/home.html", {"page": page, "topics": Topic.objects.all()})


def topic(request: HttpRequest, slug: str) -> HttpResponse:
    topic = get_object_or_404(Topic, slug=slug)
    articles = _published().filter(topics=topic).order_by("-published_on_site_at")
    page = Paginator(articles, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "articles/home.html", {"page": page, "topics": Topic.objects.all(), "topic": topic}
    )


def source(request: HttpRequest, slug: str) -> HttpResponse:
    source = get_object_or_404(Source, slug=slug)
    articles = _published().filter(source=source).order_by("-published_on_site_at")
    page = Paginator(articles, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "articles/home.html", {"page": page, "topics": Topic.objects.all(), "source": source}
    )


def article(request: HttpRequest, slug: str) -> HttpResponse:
    article = get_object_or_404(_published(), slug=slug)
    return render(request, "articles/article.html", {"article": article, "summary": article.current_summary})
