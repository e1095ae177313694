"""Request-level safety nets that belong to no single app."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

# Seconds a reader (or a proxy) should wait before trying again: a dropped connection or a
# database failover is usually over in a few seconds (issue #9, docs/faults.md).
RETRY_AFTER_SECONDS = 5


def database_unavailable_response() -> HttpResponse:
    """A styled 503 that needs no database: no request context, so no session or user lookup."""
    try:
        body = render_to_string("503.html", {"SITE_NAME": settings.SITE_NAME, "SITE_URL": settings.SITE_URL})
    except Exception:  # noqa: BLE001 - the error page itself must never become a 500
        logger.exception("Rendering 503.html failed")
        body = "<!doctype html><title>Service unavailable</title><p>Please try again in a moment.</p>"
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """Turn a lost database connection in a view or template into a styled 503, not a 500.

    Django closes the broken connection at the end of the request (CONN_HEALTH_CHECKS), so
    the next request reconnects; the reader is told to retry shortly.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("Database unavailable for %s: %s", request.path, exception)
        return database_unavailable_response()
