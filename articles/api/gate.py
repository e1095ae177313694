"""The JSON API's gate: everything /api/ shares, done before the page cache answers.

It sits above newsroom.pagecache.AnonymousPageCacheMiddleware, so a request answered from the
cache is still counted and still gets its CORS headers. Rules:

- CORS: GET and HEAD answers carry `Access-Control-Allow-Origin: *`; an OPTIONS preflight is
  answered here (204) for GET/HEAD with the Authorization and If-None-Match headers. Never
  `Allow-Credentials`: a browser sends no cookies, so no reader's session is ever involved.
  Other methods get no CORS headers and django-ninja's 405.
- Tokens: `Authorization: Bearer <token>` must name an active token (accounts.ApiToken), else
  401 with `WWW-Authenticate`. A valid token reads the same public data, so its requests may
  still be answered from the page cache (`page_cache_public_authorization`).
- Rate limits (comments/ratelimit.py): API_RATE_LIMIT per client address (newsroom/client_ip.py)
  without a token, API_TOKEN_RATE_LIMIT per token with one. Over it: 429 with `Retry-After`, the
  seconds until the window that ran out ends. Every request is counted, cached or not: when the
  counters and the pages share a Redis server (the default), in the page cache's own round trip,
  so a cached answer still costs one; else by ApiLimitMiddleware, below the page cache.
- HEAD is answered as the GET it stands for, without the body (django-ninja routes GET only).
- Every error answer under /api/ is JSON `{"error", "message"}`, also those made before any
  endpoint runs (the control-character guard's 400, an unknown path's 404, a 500).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse

from accounts.models import ApiToken
from comments import ratelimit
from newsroom.client_ip import client_ip
from newsroom.pagecache import page_cache

logger = logging.getLogger(__name__)

PREFIX = "/api/"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "ETag, Last-Modified, Retry-After",
}
PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, If-None-Match, If-Modified-Since",
    "Access-Control-Max-Age": "86400",
    "Allow": "GET, HEAD, OPTIONS",
}
ERROR_CODES = {400: "invalid_request", 401: "invalid_token", 404: "not_found", 405: "method_not_allowed"}


def _error(status: int, error: str, message: str) -> JsonResponse:
    response = JsonResponse({"error": error, "message": message}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _as_json_error(response: HttpResponseBase) -> HttpResponseBase:
    """An error response made outside the API's endpoints, as the API's JSON error."""
    if response.status_code < 400 or response.get("Content-Type", "").startswith("application/json"):
        return response
    if getattr(response, "streaming", False):
        return response
    text = (
        response.content.decode(errors="replace").strip()
        if response.get("Content-Type", "").startswith("text/plain")
        else ""
    )
    status = response.status_code
    error = ERROR_CODES.get(status, "server_error" if status >= 500 else "error")
    message = text or {404: "Nothing is published at this address.", 405: "Only GET, HEAD and OPTIONS."}.get(
        status, "The request failed."
    )
    converted = _error(status, error, message)
    for name in ("Allow", "Retry-After"):
        if response.has_header(name):
            converted[name] = response[name]
    return converted


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _same_redis() -> bool:
    """The rate-limit counters ("default") and the pages live on one Redis server, so the counters
    can be bumped in the page cache's own round trip (one server each: with replicas, the page
    cache reads from one that may not take writes)."""
    default, pages = caches[DEFAULT_CACHE_ALIAS], page_cache()
    return (
        isinstance(default, RedisCache)
        and isinstance(pages, RedisCache)
        and len(default._cache._servers) == 1
        and default._cache._servers == pages._cache._servers
    )


class Allowance:
    """One request's use of its rate limit. Counted once: in the page cache's lookup when it
    can (newsroom.pagecache.Counters), else by ApiLimitMiddleware before the
    endpoint runs. A cache outage lets the request through (logged), as the page cache does."""

    def __init__(self, *, ident: str, spec: str) -> None:
        self.now = int(time.time())
        self.windows = ratelimit.windows(scope="api", ident=ident, spec=spec, now=self.now)
        self.counts: list[int] | None = None

    def counter_keys(self) -> list[tuple[str, int]]:
        return ratelimit.counter_keys(self.windows)

    def receive(self, counts: list[int]) -> None:
        self.counts = counts

    def count(self) -> None:
        if self.counts is not None:
            return
        try:
            self.counts = ratelimit.count_uses(self.windows)
        except Exception:
            logger.exception("Rate-limit counters unavailable; letting the request through")
            self.counts = [0] * len(self.windows)

    def refusal(self) -> JsonResponse | None:
        wait = ratelimit.wait_after(self.windows, self.counts or [], self.now) if self.counts else 0
        if not wait:
            return None
        response = _error(429, "rate_limited", f"Too many requests: try again in {wait} seconds.")
        response["Retry-After"] = str(wait)
        return response


class ApiGateMiddleware:
    """Above the page cache: CORS, preflights, tokens, HEAD, JSON errors; the rate limit is
    counted with the page cache's lookup when it can be, and a cached answer over the limit
    is replaced by the 429."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        if request.method == "OPTIONS":
            response: HttpResponseBase = HttpResponse(status=204)
            for name, value in PREFLIGHT_HEADERS.items():
                response[name] = value
            return response
        if request.method not in ("GET", "HEAD"):
            return _as_json_error(self.get_response(request))
        response = self._gate(request)
        for name, value in CORS_HEADERS.items():
            response[name] = value
        return response

    def _gate(self, request: HttpRequest) -> HttpResponseBase:
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is not None:
            secret = _bearer(header)
            token = ApiToken.objects.find(secret) if secret else None
            if token is None:
                response = _error(
                    401,
                    "invalid_token",
                    "This API token is not valid (revoked, or mistyped). The API needs no token.",
                )
                response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
                return response
            token.note_use()
            allowance = Allowance(ident=f"token:{token.pk}", spec=settings.API_TOKEN_RATE_LIMIT)
            request.page_cache_public_authorization = True
        else:
            allowance = Allowance(ident=f"ip:{client_ip(request)}", spec=settings.API_RATE_LIMIT)
        request.api_allowance = allowance
        if _same_redis():
            request.page_cache_counters = allowance
        else:
            allowance.count()
            if refusal := allowance.refusal():
                return refusal
        head = request.method == "HEAD"
        if head:
            request.method = "GET"
        response = _as_json_error(self.get_response(request))
        # Counted in the page cache's lookup and answered from the cache: refuse it now.
        if refusal := allowance.refusal():
            return refusal
        if head:
            request.method = "HEAD"
            if not response.streaming:
                length = response.get("Content-Length") or str(len(response.content))
                response.content = b""
                response["Content-Length"] = length
        return response


class ApiLimitMiddleware:
    """Below the page cache (after the control-character guard), before any endpoint runs: an API request the page cache did not
    count (it did not look, or it is not on the counters' Redis) is counted here, and one over
    its limit is refused before it costs a query."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        allowance: Allowance | None = getattr(request, "api_allowance", None)
        if allowance is not None:
            allowance.count()
            if refusal := allowance.refusal():
                return refusal
        return self.get_response(request)
