"""The client's address, one rule for every rate limit (allauth's, comments', the digest's)."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, trusting only ALLAUTH_TRUSTED_PROXY_COUNT proxy hops.

    Shared with the comment rate limits so both see the same address. A request with
    fewer X-Forwarded-For hops than configured did not come through our proxies, so we
    fall back to the socket address rather than failing.
    """
    try:
        return DefaultAccountAdapter(request).get_client_ip(request)
    except (ImproperlyConfigured, PermissionDenied):
        return request.META.get("REMOTE_ADDR")
