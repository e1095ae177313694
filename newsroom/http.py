"""The guarded HTTP client every feed, page and robots.txt fetch goes through.

It refuses non-http(s) URLs and any connection to a loopback, private, link-local,
multicast or reserved address. The check runs inside the transport on the address the
socket really connects to, so a hostname that resolves to a public address for a
pre-check and to 127.0.0.1 a moment later (DNS rebinding) still cannot get through, and
every redirect hop is a new connection that is checked again. No ORM here.
"""

from __future__ import annotations

import email.utils
import functools
import ipaddress
import socket
import ssl
import time
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from django.conf import settings
from django.core.cache import cache

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECT_STATUSES = frozenset({301, 308})


class FetchError(Exception):
    """A fetch that did not produce a usable body; `error_class` is what FetchAttempt stores."""

    error_class = "network"

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class BlockedURL(FetchError):
    """The URL's scheme or address is not one we may reach."""

    error_class = "blocked"


class FetchTimeout(FetchError):
    error_class = "timeout"


class TooLarge(FetchError):
    error_class = "too-large"


class TooManyRedirects(FetchError):
    error_class = "redirects"


class HTTPError(FetchError):
    error_class = "http-error"


class RateLimited(HTTPError):
    """429, or a 503 with Retry-After: the server asked us to come back later."""

    error_class = "rate-limited"


@dataclass
class FetchResult:
    url: str  # the final URL after redirects
    status: int
    content: bytes = b""
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    not_modified: bool = False
    # Set when every hop from the requested URL was a 301/308: the feed has moved for good.
    permanent_redirect: str = ""
    elapsed_ms: int = 0


# --- The address guard --------------------------------------------------------------------


def allowed_private_hosts() -> set[str]:
    return {h.strip().lower() for h in getattr(settings, "FETCH_ALLOWED_PRIVATE_HOSTS", []) if h.strip()}


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address; IPv4-mapped IPv6 is judged as IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            ip = mapped
    return not (
        not ip.is_global
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_unspecified
        or ip.is_private
    )


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to. getaddrinfo also reads 2130706433, 0x7f000001,
    0177.0.0.1 and 127.1 as 127.0.0.1, so odd spellings are judged by what they mean."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"Cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_host_allowed(host: str, port: int) -> list[str]:
    """The host's addresses, or BlockedURL if any of them is not public (and not opened)."""
    host = host.strip("[]").lower()
    addresses = resolve(host, port)
    if host in allowed_private_hosts():
        return addresses
    for address in addresses:
        if not is_public_address(address):
            raise BlockedURL(f"{host} resolves to a non-public address ({address}).")
    return addresses


def check_url_allowed(url: str) -> None:
    """Raise BlockedURL unless `url` is http(s) and its host resolves only to public addresses.

    A pre-check for callers (forms, Slack/LINE posting); the guarded transport repeats the
    check on the address it actually connects to.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedURL(f"Not a valid URL: {url!r}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise BlockedURL(f"Only http and https URLs are fetched, not {parts.scheme or 'none'!r}.")
    if not parts.hostname:
        raise BlockedURL("The URL has no host.")
    if parts.username or parts.password:
        raise BlockedURL("URLs with credentials are not fetched.")
    check_host_allowed(parts.hostname, port or (443 if parts.scheme.lower() == "https" else 80))


class GuardedNetworkBackend(httpcore.SyncBackend):
    """Connects only to vetted addresses and re-checks the peer the socket reached."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = check_host_allowed(host, port)
        except BlockedURL:
            raise
        except FetchError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        last_error: Exception | None = None
        for address in addresses:
            try:
                stream = super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last_error = exc
                continue
            peer = stream.get_extra_info("socket").getpeername()[0]
            if host.strip("[]").lower() not in allowed_private_hosts() and not is_public_address(peer):
                stream.close()
                raise BlockedURL(f"{host} connected to a non-public address ({peer}).")
            return stream
        raise httpcore.ConnectError(str(last_error or f"Cannot connect to {host}"))


class GuardedTransport(httpx.HTTPTransport):
    def __init__(self, **kwargs: typing.Any) -> None:
        # No proxy from the environment: a proxy would make the connected address meaningless.
        kwargs["trust_env"] = False
        kwargs.pop("proxy", None)
        super().__init__(**kwargs)
        # httpx has no public hook for the network backend; the pool reads this attribute
        # for every new connection, which is exactly where the guard must sit.
        self._pool._network_backend = GuardedNetworkBackend()


def _check_request(request: httpx.Request) -> None:
    if request.url.scheme not in ("http", "https"):
        raise BlockedURL(f"Only http and https URLs are fetched, not {request.url.scheme!r}.")


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~20 ms; one context is shared by every client we make.
    return httpx.create_ssl_context()


def make_guarded_client(**kwargs: typing.Any) -> httpx.Client:
    """An httpx.Client whose every connection, redirects included, passes the address guard.

    Defaults: our User-Agent, the configured timeouts, at most 5 redirects. Any httpx.Client
    keyword may be overridden except the transport.
    """
    timeout = float(settings.FETCH_TIMEOUT_SECONDS)
    transport_kwargs: dict[str, typing.Any] = {"retries": 0, "verify": kwargs.pop("verify", None)}
    if transport_kwargs["verify"] is None:
        transport_kwargs["verify"] = default_ssl_context()
    kwargs.pop("transport", None)
    headers = {"User-Agent": settings.FETCH_USER_AGENT, **(kwargs.pop("headers", None) or {})}
    kwargs.setdefault("timeout", httpx.Timeout(timeout, connect=min(timeout, 5.0)))
    kwargs.setdefault("max_redirects", MAX_REDIRECTS)
    kwargs.setdefault("event_hooks", {"request": [_check_request]})
    return httpx.Client(
        transport=GuardedTransport(**transport_kwargs), headers=headers, trust_env=False, **kwargs
    )


# --- Politeness ---------------------------------------------------------------------------


@contextmanager
def host_slot(host: str, *, wait_seconds: float | None = None) -> Iterator[None]:
    """At most FETCH_PER_HOST_CONCURRENCY requests to one host at a time, across processes.

    Slots are cache keys claimed with an atomic add (Redis in production), each expiring on
    its own so a killed worker cannot hold a slot for ever.
    """
    limit = max(1, int(getattr(settings, "FETCH_PER_HOST_CONCURRENCY", 2)))
    hold = int(settings.FETCH_TOTAL_TIMEOUT_SECONDS) + 5
    deadline = time.monotonic() + (wait_seconds if wait_seconds is not None else hold)
    claimed = ""
    while not claimed:
        for i in range(limit):
            key = f"ingest:host-slot:{host}:{i}"
            if cache.add(key, 1, timeout=hold):
                claimed = key
                break
        else:
            if time.monotonic() >= deadline:
                raise FetchTimeout(f"Gave up waiting for a free connection slot to {host}.")
            time.sleep(0.05)
    try:
        yield
    finally:
        cache.delete(claimed)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# --- Fetching -----------------------------------------------------------------------------


def fetch(
    url: str,
    *,
    etag: str = "",
    last_modified: str = "",
    accept: str = FEED_ACCEPT,
    client: httpx.Client | None = None,
    max_bytes: int | None = None,
) -> FetchResult:
    """GET `url` with conditional headers; follow up to 5 redirects, each re-checked.

    Raises a FetchError subclass for every failure; a 304 is a result with not_modified.
    The body is read in chunks (decompressed) and abandoned past `max_bytes` or past the
    total deadline, so neither a gzip bomb nor a byte-a-second server can hold us.
    """
    max_bytes = max_bytes or int(settings.FETCH_MAX_BYTES)
    own_client = client is None
    client = client or make_guarded_client()
    started = time.monotonic()
    deadline = started + float(settings.FETCH_TOTAL_TIMEOUT_SECONDS)
    headers = {"Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    permanent = True
    current = url
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            check_url_allowed(current)
            host = urlsplit(current).hostname or ""
            with host_slot(host), client.stream("GET", current, headers=headers, follow_redirects=False) as r:
                status = r.status_code
                if status in REDIRECT_STATUSES and r.headers.get("location"):
                    permanent = permanent and status in PERMANENT_REDIRECT_STATUSES
                    current = urljoin(current, r.headers["location"])
                    continue
                result = FetchResult(url=current, status=status, headers=r.headers)
                if permanent and current != url:
                    result.permanent_redirect = current
                if status == 304:
                    result.not_modified = True
                elif status == 429 or (status == 503 and r.headers.get("retry-after")):
                    raise RateLimited(
                        f"HTTP {status}: the server asked us to slow down.",
                        status=status,
                        retry_after=parse_retry_after(r.headers.get("retry-after")),
                    )
                elif status >= 400 or status < 200:
                    raise HTTPError(f"HTTP {status}", status=status)
                else:
                    result.content = _read_capped(r, max_bytes=max_bytes, deadline=deadline)
                result.elapsed_ms = int((time.monotonic() - started) * 1000)
                return result
        raise TooManyRedirects(f"More than {MAX_REDIRECTS} redirects from {url}.")
    except FetchError:
        raise
    except httpx.TimeoutException as exc:
        raise FetchTimeout(f"Timed out: {type(exc).__name__}") from exc
    except httpx.TooManyRedirects as exc:
        raise TooManyRedirects(str(exc)) from exc
    except (httpx.HTTPError, httpx.InvalidURL, httpcore.ProtocolError, ValueError) as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        if own_client:
            client.close()


def _read_capped(response: httpx.Response, *, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes and "content-encoding" not in response.headers:
        raise TooLarge(f"Content-Length {declared} is over the {max_bytes}-byte limit.")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"Body is over the {max_bytes}-byte limit.")
        if time.monotonic() > deadline:
            raise FetchTimeout("The whole response took longer than the total time limit.")
        chunks.append(chunk)
    return b"".join(chunks)
