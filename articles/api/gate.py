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
- Rate limits (comments/ratelimit.py, one Redis round trip): API_RATE_LIMIT per client address
  (newsroom/client_ip.py) without a token, API_TOKEN_RATE_LIMIT per token with one. Over it:
  429 with `Retry-After`, the seconds until the window that ran out ends.
- HEAD is answered as the GET it stands for, without the body (django-ninja routes GET only).
- Every error answer under /api/ is JSON `{"error", "message"}`, also those made before any
  endpoint runs (the control-character guard's 400, an unknown path's 404, a 500).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse

from accounts.models import ApiToken
from comments.ratelimit import limit_wait
from newsroom.client_ip import client_ip

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


class ApiGateMiddleware:
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
            ident, spec = f"token:{token.pk}", settings.API_TOKEN_RATE_LIMIT
            request.page_cache_public_authorization = True
        else:
            ident, spec = f"ip:{client_ip(request)}", settings.API_RATE_LIMIT
        wait = limit_wait(scope="api", ident=ident, spec=spec)
        if wait:
            response = _error(429, "rate_limited", f"Too many requests: try again in {wait} seconds.")
            response["Retry-After"] = str(wait)
            return response
        head = request.method == "HEAD"
        if head:
            request.method = "GET"
        response = _as_json_error(self.get_response(request))
        if head:
            request.method = "HEAD"
            if not response.streaming:
                length = response.get("Content-Length") or str(len(response.content))
                response.content = b""
                response["Content-Length"] = length
        return response
