"""The client's address, one rule for every rate limit (allauth's, comments', the digest's, the API's)."""

from __future__ import annotations

from functools import lru_cache

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal.httpkit import clean_client_ip
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest


@lru_cache(maxsize=4096)  # parsing an address costs more than the rest; clients come back
def _cleaned(remote: str) -> str:
    return clean_client_ip(remote) or remote


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, trusting only ALLAUTH_TRUSTED_PROXY_COUNT proxy hops.

    Shared with the comment rate limits so both see the same address. A request with
    fewer X-Forwarded-For hops than configured did not come through our proxies, so we
    fall back to the socket address rather than failing.
    """
    if not settings.ALLAUTH_TRUSTED_PROXY_COUNT and not getattr(
        settings, "ALLAUTH_TRUSTED_CLIENT_IP_HEADER", None
    ):
        # No proxy trusted: allauth's rule is the socket's address, cleaned. Answered here without
        # it, because the JSON API asks on every request, cached ones included (a tenth of a hit).
        remote = request.META.get("REMOTE_ADDR")
        return _cleaned(remote) if remote else None
    try:
        return DefaultAccountAdapter(request).get_client_ip(request)
    except (ImproperlyConfigured, PermissionDenied):
        return request.META.get("REMOTE_ADDR")
