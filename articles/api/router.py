"""The read-only JSON API, /api/v1/ (docs/api.md): thin endpoints over queries.py, shaped by
schemas.py, described by the OpenAPI 3.1 document django-ninja generates from them.

What every response shares (CORS, rate limits, tokens, JSON errors for requests that never
reach an endpoint) is done in gate.py, before the page cache; caching, ETag and 304 by the page
cache itself (newsroom/pagecache.py), which keys each list by the parameters declared here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from ninja import Field, NinjaAPI, Path, Query, Schema
from ninja.errors import ValidationError
from pydantic import BeforeValidator

from articles.reader.queries import absolute_url
from articles.reader.search import MAX_QUERY_LENGTH, MAX_RESULTS
from newsroom.pagecache import page_cache_params

from . import cursors, queries
from . import schemas as out

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
CORRECTIONS_LIMIT = 200
# A signed cursor is about 90 characters; anything far longer is not one of ours.
MAX_CURSOR_LENGTH = 300

DESCRIPTION = """\
Published stories and articles of this site, with their summaries, evidence quotes and
coverage, as JSON. Read-only and open to everyone: no key needed. An optional API token
(created on your profile page, sent as `Authorization: Bearer <token>`) raises your rate limit
and reads the same data.

Lists are paginated with opaque cursors: pass `next_cursor` back as `cursor` until it is null.
Responses carry an `ETag`; send it back in `If-None-Match` for a `304 Not Modified`.
Too many requests answer `429` with `Retry-After`. Errors are JSON: `{"error", "message"}`.
"""

api = NinjaAPI(
    title="Newsroom API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
    docs_url=None,  # our own page (docs.py): Swagger UI would need inline styles and scripts
    openapi_extra={
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Optional: an API token from your profile page, for a higher rate limit.",
                }
            }
        },
        # Anonymous or with a token: the same data, different rate limits.
        "security": [{}, {"token": []}],
    },
)


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return api.create_response(request, {"error": exc.error, "message": exc.message}, status=exc.status)


@api.exception_handler(ValidationError)
def _invalid_request(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    detail = [
        {"parameter": ".".join(str(part) for part in e.get("loc", ())[1:]), "problem": e.get("msg", "")}
        for e in exc.errors
    ]
    names = ", ".join(sorted({row["parameter"] for row in detail})) or "the request"
    body = {"error": "invalid_request", "message": f"Check {names}.", "detail": detail}
    return api.create_response(request, body, status=400)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    message = str(exc) or "Nothing is published at this address."
    return api.create_response(request, {"error": "not_found", "message": message}, status=404)


def _errors(*codes: int) -> dict[int, type]:
    """Every endpoint may answer these: 400 bad parameters; 401 a token that is not (or no
    longer) valid; 429 over the rate limit (gate.py)."""
    return {code: out.Error for code in (400, 401, 429, *codes)}


RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _rfc3339(value: object) -> object:
    """Only an RFC 3339 date-time, as the document promises: pydantic alone would also take a
    bare date or a number of seconds."""
    if isinstance(value, str) and not RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-05-01T08:00:00Z")
    return value


DateTime = Annotated[datetime, BeforeValidator(_rfc3339)]


def _utc(value: datetime | None) -> datetime | None:
    """An aware UTC time; a time without an offset is taken as UTC. A time at the edge of the
    calendar whose offset moves it past year 1 or 9999 ("0001-01-01T00:00:00+03:00") is a valid
    RFC 3339 time: it becomes the first or last UTC time there is, which selects the same
    articles (none has a time outside them)."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if value.year == datetime.min.year else datetime.max
        return edge.replace(tzinfo=UTC)


def _cursor(cursor: str | None, kind: str) -> cursors.Position | None:
    if not cursor:
        return None
    try:
        return cursors.decode(cursor, kind=kind)
    except cursors.InvalidCursor as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from None


# Slugs are made by django.utils.text.slugify: ASCII letters, digits, hyphens and underscores.
SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
# What django.core.signing produces (URL-safe base64 and colons).
CURSOR_PATTERN = r"^[-a-zA-Z0-9_:]+$"
# The site refuses control characters in an API query (newsroom/request_guard.py); tab,
# newline and carriage return pass.
NO_CONTROL_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

Slug = Path(..., pattern=SLUG_PATTERN, max_length=220, description="The slug, as in `slug` of a list item.")


class ListQuery(Schema):
    """The query string of /stories and /articles."""

    topic: str | None = Field(
        None,
        max_length=80,
        pattern=SLUG_PATTERN,
        description="Only items in this topic (its slug, see /topics).",
    )
    source: str | None = Field(
        None,
        max_length=200,
        pattern=SLUG_PATTERN,
        description="Only items from this source (its slug, see /sources).",
    )
    published_after: DateTime | None = Field(
        None,
        description="Only items published on this site at or after this time (RFC 3339, e.g. `2026-05-01T08:00:00Z`).",
    )
    published_before: DateTime | None = Field(
        None, description="Only items published on this site before this time (RFC 3339)."
    )
    updated_since: DateTime | None = Field(
        None,
        description="Only items published, corrected or (stories) given new coverage at or after this time (RFC 3339).",
    )
    cursor: str | None = Field(
        None,
        max_length=MAX_CURSOR_LENGTH,
        pattern=CURSOR_PATTERN,
        description="`next_cursor` of the previous page.",
    )
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page.")

    def filters(self) -> queries.Filters:
        return queries.Filters(
            topic=self.topic,
            source=self.source,
            published_after=_utc(self.published_after),
            published_before=_utc(self.published_before),
            updated_since=_utc(self.updated_since),
        )


LIST_PARAMS = tuple(ListQuery.model_fields)


def _next(
    request: HttpRequest, kind: str, position: cursors.Position | None, query: ListQuery
) -> dict[str, Any]:
    """next_cursor and next_url: this list's own parameters (never the rest of the query string)
    with the cursor of the page's last item."""
    if position is None:
        return {"next_cursor": None, "next_url": None}
    cursor = cursors.encode(kind=kind, position=position)
    params = query.model_dump(exclude_none=True, exclude={"cursor"})
    params = {
        name: value.isoformat() if isinstance(value, datetime) else value for name, value in params.items()
    }
    params["cursor"] = cursor
    return {"next_cursor": cursor, "next_url": absolute_url(f"{request.path}?{urlencode(params)}")}


def cached_by(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The page cache keys this endpoint's responses by these query parameters alone; urls.py
    copies the declaration onto the URL pattern django-ninja builds around the endpoint."""
    return page_cache_params(*names)


# --- Stories ----------------------------------------------------------------------------------


@api.get("/stories", response={200: out.StoryList, **_errors()}, url_name="stories", tags=["stories"])
@cached_by(*LIST_PARAMS)
def stories(request: HttpRequest, query: Query[ListQuery]) -> dict[str, Any]:
    """Stories on the site, most recently published first.

    A story is one event as reported by one or more sources; `shown` is the article whose
    summary stands for it. Filters apply to the story's articles on the site."""
    after = _cursor(query.cursor, "stories")
    page = queries.story_page(filters=query.filters(), after=after, limit=query.limit)
    items = [
        out.story_item(card.coverage, card.article, key_takeaway=card.article.key_takeaway)
        for card in page.items
    ]
    return {"items": items, **_next(request, "stories", page.next, query)}


@api.get(
    "/stories/{slug}",
    response={200: out.StoryOut, 301: None, **_errors(404)},
    url_name="story",
    tags=["stories"],
)
@cached_by()
def story(request: HttpRequest, slug: str = Slug) -> Any:
    """One story: the shown article's summary (key takeaway, key points and FAQ with the
    sources and quotes that back them, where the sources differ, its AI label and update line),
    every report of it, its timeline and its follow-ups. A story an editor merged into another
    answers 301 to that story."""
    page = queries.story_detail(slug)
    if page is None:
        target = queries.merged_story_target(slug)
        if target is not None:
            return HttpResponsePermanentRedirect(out.api_path("story", target.slug))
        raise Http404("No story on the site has this slug.")
    coverage = page.coverage
    return {
        **out.story_item(
            coverage, page.article, key_takeaway=page.summary.key_takeaway if page.summary else None
        ),
        "summary": out.summary_out(page.summary, page.article),
        "sources": [out.source_ref(source) for source in coverage.sources],
        "coverage": out.coverage_items(coverage),
        **out.developments_out(queries.story_developments(page.story)),
    }


# --- Articles ---------------------------------------------------------------------------------


@api.get("/articles", response={200: out.ArticleList, **_errors()}, url_name="articles", tags=["articles"])
@cached_by(*LIST_PARAMS)
def articles(request: HttpRequest, query: Query[ListQuery]) -> dict[str, Any]:
    """Articles on the site, most recently published first. A republished copy of another
    article is not listed: it is in its original's `also_published_by`."""
    after = _cursor(query.cursor, "articles")
    page = queries.article_page(filters=query.filters(), after=after, limit=query.limit)
    return {
        "items": [out.article_item(a) for a in page.items],
        **_next(request, "articles", page.next, query),
    }


@api.get(
    "/articles/{slug}", response={200: out.ArticleOut, **_errors(404)}, url_name="article", tags=["articles"]
)
@cached_by()
def article(request: HttpRequest, slug: str = Slug) -> dict[str, Any]:
    """One article: its current approved summary with evidence quotes, its story, and the
    sources that republished its text."""
    detail = queries.article_detail(slug)
    if detail is None:
        raise Http404("No article on the site has this slug.")
    article, coverage = detail.article, detail.coverage
    summary = article.summary
    return {
        **out.article_item(
            article, key_takeaway=summary.key_takeaway if summary else None, story=coverage.story
        ),
        "canonical_url": absolute_url(coverage.canonical_path_of(article)),
        "summary": out.summary_out(summary, article),
        "also_published_by": [
            {"source": out.source_ref(c.source), "original_url": c.url, "reported_at": c.published_at}
            for c in detail.copies
        ],
    }


# --- Topics, sources, search, corrections -----------------------------------------------------


@api.get("/topics", response={200: list[out.TopicOut], **_errors()}, url_name="topics", tags=["site"])
@cached_by()
def topics(request: HttpRequest) -> list[dict[str, Any]]:
    """Every topic, by name."""
    return [out.topic_out(topic) for topic in queries.topic_list()]


@api.get("/sources", response={200: list[out.SourceOut], **_errors()}, url_name="sources", tags=["site"])
@cached_by()
def sources(request: HttpRequest) -> list[dict[str, Any]]:
    """The sources with at least one article on the site, by name."""
    return [out.source_out(source) for source in queries.source_list()]


@api.get("/search", response={200: out.SearchResults, **_errors()}, url_name="search", tags=["site"])
@cached_by("q", "limit")
def search(
    request: HttpRequest,
    q: str = Query(
        ...,
        max_length=MAX_QUERY_LENGTH,
        pattern=NO_CONTROL_PATTERN,
        description='Words to find in titles and key takeaways; "quoted phrases" and -excluded words work.',
    ),
    limit: int = Query(MAX_RESULTS, ge=1, le=MAX_RESULTS, description="Most results to return, best first."),
) -> dict[str, Any]:
    """Search the articles on the site, best match first (the site's own search)."""
    query = " ".join(q.split())
    results = queries.search(query, limit=limit)
    return {
        "query": query,
        "items": [{**out.article_item(a), "snippet_html": str(a.snippet)} for a in results],
    }


@api.get(
    "/corrections", response={200: out.CorrectionLog, **_errors()}, url_name="corrections", tags=["site"]
)
@cached_by()
def corrections(request: HttpRequest) -> dict[str, Any]:
    """The corrections log: every approved summary version that replaced an earlier one,
    newest first, with what changed and the editor's note."""
    return {"items": [out.correction_out(c) for c in queries.correction_log(limit=CORRECTIONS_LIMIT)]}
