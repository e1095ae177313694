"""Our own rights, machine-readable: the TDM Reservation Protocol (W3C TDMRep final report).

As TDM_RESERVATION says ("1" by default), every response carries `tdm-reservation` (and
`tdm-policy` when TDM_POLICY_URL is set and rights are reserved), and
/.well-known/tdmrep.json states the same for every path of the site. How we honour other
sites' reservations when extracting: articles/ingest/tdmrep.py.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.views.decorators.http import require_GET


def tdm_declaration() -> dict[str, int | str]:
    """The one declaration for the whole site, as TDMRep's JSON properties."""
    declaration: dict[str, int | str] = {"tdm-reservation": int(settings.TDM_RESERVATION)}
    if settings.TDM_RESERVATION == "1" and settings.TDM_POLICY_URL:
        declaration["tdm-policy"] = settings.TDM_POLICY_URL
    return declaration


class TDMReservationMiddleware:
    """Sets the TDMRep headers on every response, cached pages, files and errors included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        for name, value in tdm_declaration().items():
            response.headers.setdefault(name, str(value))
        return response


@require_GET
def tdmrep_json(request: HttpRequest) -> JsonResponse:
    """/.well-known/tdmrep.json: one rule whose location pattern covers every path."""
    return JsonResponse([{"location": "/*", **tdm_declaration()}], safe=False)
