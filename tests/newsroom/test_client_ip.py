"""newsroom/client_ip.py: the one client-address rule behind every rate limit."""

from __future__ import annotations

import os
import subprocess
import sys

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory, override_settings

from newsroom.client_ip import client_ip

SPOOFED = {"HTTP_X_FORWARDED_FOR": "6.6.6.6, 198.51.100.7", "REMOTE_ADDR": "10.0.0.1"}


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_the_client_ip_trusts_only_the_configured_proxy_hops():
    request = RequestFactory().get("/", **SPOOFED)
    assert client_ip(request) == "198.51.100.7"  # the spoofed first entry is ignored


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=0)
def test_without_trusted_proxies_forwarded_headers_are_ignored():
    request = RequestFactory().get("/", **SPOOFED)
    assert client_ip(request) == "10.0.0.1"


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=2)
def test_a_request_with_fewer_hops_than_our_proxies_uses_the_socket_address():
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="6.6.6.6", REMOTE_ADDR="10.0.0.1")
    assert client_ip(request) == "10.0.0.1"


def _client_ip_in_subprocess(**env: str) -> str:
    """client_ip of a spoofed request, in a fresh process whose settings read only `env`."""
    code = (
        "import django; django.setup()\n"
        "from django.test import RequestFactory\n"
        "from newsroom.client_ip import client_ip\n"
        f"print(client_ip(RequestFactory().get('/', **{SPOOFED!r})))\n"
    )
    clean = {k: v for k, v in os.environ.items() if "PROXY" not in k}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "newsroom.settings", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_out_of_the_box_no_proxy_is_trusted_and_trusted_proxy_count_switches_it_on():
    # A forged X-Forwarded-For must not let a client dodge the login or comment limits...
    assert _client_ip_in_subprocess() == "10.0.0.1"
    # ...and the one setting an operator behind a proxy sets reaches allauth's rule too.
    assert _client_ip_in_subprocess(TRUSTED_PROXY_COUNT="1") == "198.51.100.7"


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=0)
def test_without_trusted_proxies_the_address_is_allauths_own():
    for remote in ("10.0.0.1", "2001:db8::1", "2001:0db8:0000::0001", "not-an-address", ""):
        request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR="6.6.6.6")
        try:
            allauths = DefaultAccountAdapter(request).get_client_ip(request)
        except PermissionDenied:
            allauths = remote or None
        assert client_ip(request) == allauths, remote
