"""Control characters in what a request sends: one rule at the edge, for every view.

PostgreSQL text cannot hold NUL (U+0000): psycopg raises DataError, so a NUL that reaches a
query is a 500 (`/search/?q=%00` was one), and SQLite would store it. No person types a NUL
or the other C0 control characters; they come from scanners, fuzzers and pasted binary.

Every view reads its input through request.GET and request.POST, ours and third-party ones
alike (allauth's sign-up and login, the admin's search and filters), so one check here covers
all of them, including views written later; a cleaner in each form or view would have to be
remembered every time and would miss allauth and the admin.

Rules:
- NUL in the path, in a query-string name or value, or in a submitted form field's name or
  value answers 400 with a plain-text message; no view runs.
- The other control characters U+0001-U+0008, U+000B, U+000C, U+000E-U+001F and U+007F
  (DEL) answer 400 in the path, and are removed from query-string and form values: they are
  invisible, so a reader who pasted a form feed or an escape code into a comment, a display
  name or a search loses nothing they meant to send. Tab, newline and carriage return stay
  (comments have paragraphs).
- Under /api/ a program writes the query string, and the API's published parameters (its
  OpenAPI patterns) admit no control character: any of them in a query value answers 400 there
  instead of being removed, so a client's bug is told, not answered as if it had asked for
  something else (`?source=%166` would read source "6"). The API's gate turns the 400 into its
  JSON error.
- Only url-encoded and multipart form bodies are read, as Django parses them for
  request.POST; JSON and other bodies, and the contents of uploaded files, are the view's own.

The cost is one pass over each value with a character-class regex (no backtracking); the
body is already capped by DATA_UPLOAD_MAX_MEMORY_SIZE before Django parses it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase, QueryDict

NUL = "\x00"
OTHER_CONTROLS = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

NUL_MESSAGE = "Bad request: it contains a NUL character (%00), which no page on this site accepts.\n"
PATH_MESSAGE = "Bad request: the address contains a control character.\n"
QUERY_MESSAGE = "Bad request: the query string contains a control character.\n"
# Where query strings come from programs: control characters are refused, not removed.
STRICT_QUERY_PREFIX = "/api/"


def _has_nul(data: QueryDict) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in data.lists())


def without_controls(data: QueryDict) -> QueryDict | None:
    """A copy of `data` with the other control characters removed from every value, or None
    when there are none (the common case costs no copy)."""
    if not any(OTHER_CONTROLS.search(value) for _key, values in data.lists() for value in values):
        return None
    cleaned = QueryDict(mutable=True, encoding=data.encoding)
    for key, values in data.lists():
        cleaned.setlist(key, [OTHER_CONTROLS.sub("", value) for value in values])
    cleaned._mutable = False
    return cleaned


def _bad_request(message: str) -> HttpResponse:
    response = HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    # Answered before SecurityMiddleware runs, so the headers that matter here are set here.
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class ControlCharacterGuardMiddleware:
    """Refuse NUL and strip the other control characters before any view reads the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if NUL in request.path_info or OTHER_CONTROLS.search(request.path_info):
            return _bad_request(NUL_MESSAGE if NUL in request.path_info else PATH_MESSAGE)
        if _has_nul(request.GET):
            return _bad_request(NUL_MESSAGE)
        cleaned = without_controls(request.GET)
        if cleaned is not None:
            if request.path_info.startswith(STRICT_QUERY_PREFIX):
                return _bad_request(QUERY_MESSAGE)
            request.GET = cleaned
        if request.method == "POST" and request.content_type in _FORM_TYPES:
            if _has_nul(request.POST):
                return _bad_request(NUL_MESSAGE)
            cleaned = without_controls(request.POST)
            if cleaned is not None:
                request.POST = cleaned
        return self.get_response(request)
