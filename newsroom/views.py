"""Site-wide views: the health check, styled error pages and the benchmark ceiling."""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.cache import caches
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and both caches answer; 503 naming the part that does not."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not healthy", whatever the driver raised
        logger.warning("Health check: database failing: %s", exc)
        checks["database"] = f"failing: {exc.__class__.__name__}"
    # "default" holds sessions and rate limits, "pages" the page cache (PAGES_REDIS_URL may be a
    # Redis of its own): a site that cannot reach either is not healthy.
    for check, alias in (("cache", "default"), ("pages_cache", "pages")):
        try:
            cache = caches[alias]
            cache.set("healthz:probe", "1", timeout=10)
            if cache.get("healthz:probe") != "1":
                raise RuntimeError("value did not round-trip")
            checks[check] = "ok"
        except Exception as exc:
            logger.warning("Health check: %s failing: %s", check, exc)
            checks[check] = f"failing: {exc.__class__.__name__}"
    failing = [name for name, state in checks.items() if state != "ok"]
    body = {"status": "fail" if failing else "ok", "failing": failing, "checks": checks}
    return JsonResponse(body, status=503 if failing else 200)


# Error pages are rendered without context processors or database access: they must work
# when those fail.


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
