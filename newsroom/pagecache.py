"""Anonymous page cache: a middleware at the top of the stack, and its invalidation.

Anonymous readers are most of the traffic and they all see the same bytes, so a GET
without a session cookie is answered with ONE cache round trip (`get_many` of the page
entry and the global generation: a single MGET on Redis), before sessions, auth, CSRF or
any view runs. Django's `cache_page` is much slower on this path because it pickles whole
HttpResponse objects and runs behind the full middleware stack (issue #6 measured
0.3-0.45x of a bare view); here we store only the body and a few headers.

Rules:
- Only GET/HEAD, only requests without a session/messages cookie or Authorization header
  (except an API token the API's gate checked: it reads public data), only paths outside
  PAGE_CACHE_EXCLUDE_PREFIXES.
- A response is stored only if it is a 200, not streaming, sets no cookie (a CSRF token or
  session in the page would leak to everyone), did not use a CSP nonce (a cached nonce is
  no nonce), and is not marked `Cache-Control: private/no-store`.
- Pages live in their own cache alias, "pages" (PAGES_ALIAS), bounded on its own: junk page
  traffic can never evict the rate-limit counters, which stay in "default" (issue #13).
- One page, one entry: a page is stored only under its canonical address (issue #13).
  - Query parameters: a view lists the ones its page depends on with `@page_cache_params`;
    the key holds those alone, so `?utm_source=…` or `?fbclid=…` is answered with the
    canonical page. A view that lists none is cached only for requests without a query string.
  - Values: the view states what each parameter really meant with `page_cache_canonical`
    (the page number after clamping, the normalised search words). A request whose values
    differ (`?page=999`, `?page=abc`, `?page=1`, `?page=02`) is answered but not stored; so is
    one whose path is an alias of the canonical path (`/sources/007/`).
  - Host: only a host named literally in ALLOWED_HOSTS (or SITE_URL's), lower case, with no
    port or the server's own (or 80/443). Wildcard subdomains and stray ports are not stored.
  - A free-text parameter (`q`) still has endless values: each path stores at most
    PAGE_CACHE_MAX_VARIANTS query variants per PAGE_CACHE_SECONDS window, so at most twice
    that many copies of one path are alive at once.
- A page is stored once per encoding (identity, gzip, brotli: one entry each), compressed when
  it is stored (newsroom/compression.py). A hit fetches only the entry of the encoding the
  reader prefers and compresses nothing. Each encoding has its own strong ETag; responses carry
  `Vary: Accept-Encoding`.
- Invalidation is by generation counters: every entry remembers the global generation and
  its own path's generation it was built under, and is ignored once either moves.
  `invalidate_pages()` bumps the global one (a publish or edit changes listings, feeds and
  related articles everywhere); `invalidate_pages(path=...)` bumps one page's (a comment
  changes only its article page, so a busy discussion does not empty the whole cache; comment
  counts on listing cards catch up within PAGE_CACHE_SECONDS). The signal handlers in
  articles/reader/invalidation.py call these when a transaction that changed what readers see commits.
- Every response that passes through gets an ETag and Last-Modified and conditional GETs
  are answered with 304, from the cache or not.
- A cache outage never breaks the site: errors are logged and the request goes through.
- A middleware above may have counters bumped in the lookup's round trip
  (`request.page_cache_counters`, see `Counters`): the JSON API counts its rate limits there.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from functools import lru_cache
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.request import validate_host
from django.urls import Resolver404, resolve
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date

from .compression import CODINGS, encode_page, negotiate

logger = logging.getLogger(__name__)

# The cache alias for pages and card fragments (settings.CACHES): never "default", where the
# rate-limit counters live, so no amount of page traffic can evict a counter.
PAGES_ALIAS = "pages"
GENERATION_KEY = "pagecache:generation"
PATH_GENERATION_PREFIX = "pagecache:generation:"
# v2: canonical addresses, one entry per encoding. Entries of another shape are never read.
ENTRY_PREFIX = "pagecache:page:v2:"
VARIANTS_PREFIX = "pagecache:variants:"
# Headers a view may set that must not be replayed to other readers, or are set per encoding.
_UNSTORED_HEADERS = frozenset(
    {"set-cookie", "date", "content-length", "content-encoding", "etag", "x-page-cache"}
)
_DEFAULT_PORTS = ("80", "443")

View = TypeVar("View", bound=Callable[..., Any])


def page_cache() -> BaseCache:
    return caches[PAGES_ALIAS]


def new_generation() -> int:
    # Nanoseconds: a counter lost to eviction restarts at a value no stored entry carries,
    # so eviction can never resurrect a stale page.
    return time.time_ns()


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def path_generation_key(path: str) -> str:
    return PATH_GENERATION_PREFIX + _digest(path)


def invalidate_pages(path: str | None = None) -> None:
    """Make every cached page (or only the pages at `path`) stale: one counter bump, O(1)."""
    key = GENERATION_KEY if path is None else path_generation_key(path)
    pages = page_cache()
    try:
        pages.incr(key)
    except ValueError:  # counter missing (fresh cache or evicted): start a new one
        pages.set(key, new_generation(), timeout=None)
    except Exception:  # a cache outage must not fail the write that triggered us
        logger.exception("Could not invalidate the page cache")


class Counters(Protocol):
    """Counters a middleware above wants bumped in the lookup's round trip (the JSON API's rate
    limits, articles/api/gate.py). Redis only; otherwise `receive` is never called."""

    def counter_keys(self) -> list[tuple[str, int]]:
        """(Redis key, seconds): each is incremented, and expires that long after its first use."""
        ...

    def receive(self, counts: list[int]) -> None: ...


# One server-side call for the page lookup and the counters: MGET, then INCR (and EXPIRE on a
# counter's first use) of each counter. KEYS: the n page keys, then the counters; ARGV: n, then
# each counter's lifetime. A nil from MGET arrives as false, so the table keeps its length.
_LOOKUP_AND_COUNT = """
local n = tonumber(ARGV[1])
local found = redis.call('MGET', unpack(KEYS, 1, n))
for i = n + 1, #KEYS do
  local used = redis.call('INCR', KEYS[i])
  if used == 1 then redis.call('EXPIRE', KEYS[i], ARGV[i - n + 1]) end
  found[#found + 1] = used
end
return found
"""


def get_many(keys: list[str], counters: Counters | None = None) -> dict:
    """The pages alias's get_many(), minus the cost of Django building a new redis.Redis per call.

    On a hit this is the whole cost of a page, so with the Redis backend we keep one client
    per cache instance (per worker thread) on top of Django's own connection pool, and use
    Django's key function and serializer so entries stay readable by `page_cache().get()`.
    With `counters`, they are bumped in the same call: one Lua script, still one round trip.
    """
    backend = page_cache()
    if not isinstance(backend, RedisCache):
        return backend.get_many(keys)
    client = getattr(backend, "_pagecache_client", None)
    if client is None:
        client = backend._cache.get_client(write=False)
        backend._pagecache_client = client
    # make_key(), not make_and_validate_key(): our keys are fixed prefixes and hex digests, and
    # the validation (a warning for keys memcached would refuse) walks every character of every
    # key on every request.
    made = [backend.make_key(key) for key in keys]
    if counters is None:
        values = client.mget(made)
    else:
        script = getattr(backend, "_pagecache_script", None)
        if script is None:
            script = backend._pagecache_script = client.register_script(_LOOKUP_AND_COUNT)
        counted = counters.counter_keys()
        replies = script(
            keys=[*made, *(key for key, _ in counted)],
            args=[len(made), *(seconds for _, seconds in counted)],
        )
        values = replies[: len(made)]
        counters.receive([int(count) for count in replies[len(made) :]])
    loads = backend._cache._serializer.loads
    return {key: loads(value) for key, value in zip(keys, values, strict=True) if value is not None}


# --- Canonical addresses ------------------------------------------------------------------


def page_cache_params(*names: str) -> Callable[[View], View]:
    """Declare the query parameters this view's page depends on; every other one is ignored.

    The page cache keys the view's pages by these alone and answers a request carrying any
    other parameter with the canonical page, so the view must not read anything else from
    `request.GET`. `@page_cache_params()` declares a view that reads none.
    """

    def decorate(view: View) -> View:
        view.page_cache_params = frozenset(names)  # type: ignore[attr-defined]
        return view

    return decorate


def page_cache_canonical(request: HttpRequest, *, path: str | None = None, **params: object) -> None:
    """State the canonical address of the page being rendered.

    `params` gives the value each declared parameter really took (the page number after
    Paginator clamped it; None when the page is the parameter's default, e.g. page 1); `path`
    the canonical path when the view also answers an alias of it. A request whose own address
    differs is answered normally but never stored.
    """
    canonical = request.__dict__.setdefault("_page_cache_canonical", {})
    canonical.update({name: None if value in (None, "") else str(value) for name, value in params.items()})
    if path is not None:
        request._page_cache_canonical_path = path


@lru_cache(maxsize=8)
def _literal_hosts(allowed_hosts: tuple[str, ...], site_url: str) -> frozenset[str]:
    """Hosts ALLOWED_HOSTS names outright (not by a pattern), and SITE_URL's if it allows it."""
    hosts = {h.lower() for h in allowed_hosts if h != "*" and not h.startswith(".")}
    site_host = (urlsplit(site_url).hostname or "").lower()
    if site_host and validate_host(site_host, allowed_hosts):
        hosts.add(site_host)
    return frozenset(hosts)


def _canonical_host(request: HttpRequest) -> str | None:
    """The request's host if it is one canonical spelling of a named host, else None.

    Django accepts `News.Example.COM:1234` for `news.example.com`, and any subdomain for a
    `.example.com` pattern; each spelling would be a separate copy of every page. A host in
    the literal set is allowed by ALLOWED_HOSTS, so on this (hot) path it is not re-validated.
    """
    host = request.META.get("HTTP_HOST")
    if host is None or settings.USE_X_FORWARDED_HOST:
        try:
            host = request.get_host()
        except DisallowedHost:
            return None  # the stack below answers 400
    literal = _literal_hosts(tuple(settings.ALLOWED_HOSTS), settings.SITE_URL)
    if host in literal:
        return host
    domain, _, port = host.rpartition(":")
    if domain in literal and port in (request.META.get("SERVER_PORT"), *_DEFAULT_PORTS):
        return host
    return None


@dataclass(frozen=True, slots=True)
class _Address:
    """Where a request's page lives in the cache."""

    key: str
    params: dict[str, str]  # the declared parameters the request carries, raw


def _address(request: HttpRequest) -> _Address | None:
    """The cache address of this request, or None when it must neither read nor write the cache."""
    host = _canonical_host(request)
    if host is None:
        return None
    params: dict[str, str] = {}
    if request.META.get("QUERY_STRING"):
        # Only requests with a query string pay for resolving the URL (~10-40 us).
        try:
            declared = getattr(resolve(request.path_info).func, "page_cache_params", None)
        except Resolver404:
            return None
        if declared is None:
            return None  # a view that did not say what it reads: never cache a variant of it
        params = {name: request.GET[name] for name in sorted(declared) if name in request.GET}
    scheme = "https" if request.is_secure() else "http"
    raw = f"{scheme}://{host}{request.path}?{urlencode(sorted(params.items()))}"
    return _Address(key=ENTRY_PREFIX + _digest(raw), params=params)


def _is_canonical(request: HttpRequest, address: _Address) -> bool:
    """After the view ran: is the request's address the one the view says is canonical?"""
    canonical_path = getattr(request, "_page_cache_canonical_path", None)
    if canonical_path is not None and canonical_path != request.path:
        return False
    match = getattr(request, "resolver_match", None)
    declared = getattr(match.func, "page_cache_params", frozenset()) if match else frozenset()
    stated = getattr(request, "_page_cache_canonical", {})
    return all(stated[name] == address.params.get(name) for name in declared if name in stated)


def _variant_allowed(request: HttpRequest, timeout: int) -> bool:
    """At most PAGE_CACHE_MAX_VARIANTS stores of query variants per path per window."""
    window = int(time.time()) // timeout
    key = f"{VARIANTS_PREFIX}{_digest(request.path)}:{window}"
    pages = page_cache()
    pages.add(key, 0, timeout=2 * timeout)
    try:
        used = pages.incr(key)
    except ValueError:  # expired between add and incr
        pages.set(key, 1, timeout=2 * timeout)
        used = 1
    return used <= settings.PAGE_CACHE_MAX_VARIANTS


# --- The middleware -----------------------------------------------------------------------


def _is_cacheable_request(request: HttpRequest) -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    # A credential may change the answer; the API's gate vouches for its own tokens, which read
    # the same public data as everyone (articles/api/gate.py).
    if "HTTP_AUTHORIZATION" in request.META and not getattr(
        request, "page_cache_public_authorization", False
    ):
        return False
    cookies = request.COOKIES
    if any(name in cookies for name in settings.PAGE_CACHE_BYPASS_COOKIES):
        return False
    return not request.path.startswith(tuple(settings.PAGE_CACHE_EXCLUDE_PREFIXES))


def _is_storable_response(request: HttpRequest, response: HttpResponseBase) -> bool:
    if response.status_code != 200 or response.streaming or response.cookies:
        return False
    if response.has_header("Content-Encoding"):
        return False
    if getattr(request, "_csp_nonce", None):  # a LazyNonce is truthy once it was used
        return False
    cache_control = response.get("Cache-Control", "")
    return "private" not in cache_control and "no-store" not in cache_control


def _validators(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _etag(digest: str, coding: str) -> str:
    # One strong ETag per representation (RFC 9110 8.8.3): the gzip bytes are not the page's.
    return f'"{digest}"' if coding == "identity" else f'"{digest}-{coding}"'


def _preferred_coding(request: HttpRequest) -> str:
    """The encoding this reader would take best: its entry is the one fetched on a hit."""
    return negotiate(request.META.get("HTTP_ACCEPT_ENCODING", ""), CODINGS)


def _entry_key(address: _Address, coding: str) -> str:
    return f"{address.key}:{coding}"


def _send(request: HttpRequest, response: HttpResponse, entry: dict) -> HttpResponseBase:
    etag = _etag(entry["digest"], entry["coding"])
    response.headers["ETag"] = etag
    if entry["coding"] != "identity":
        response.headers["Content-Encoding"] = entry["coding"]
    # A HEAD answer states the length of the GET body it stands for.
    response.headers["Content-Length"] = str(len(entry["body"]))
    return get_conditional_response(request, etag=etag, last_modified=entry["stored_at"], response=response)


def _replay(request: HttpRequest, entry: dict) -> HttpResponseBase:
    response = HttpResponse(b"" if request.method == "HEAD" else entry["body"], status=200)
    for name, value in entry["headers"]:
        response.headers[name] = value
    response.headers["X-Page-Cache"] = "hit"
    return _send(request, response, entry)


class AnonymousPageCacheMiddleware:
    """Serve anonymous GETs from the cache with one round trip; store canonical pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        timeout = settings.PAGE_CACHE_SECONDS
        if not _is_cacheable_request(request):
            return self.get_response(request)
        if timeout <= 0:
            return self._with_validators(request, self.get_response(request))
        address = _address(request)
        if address is None:
            return self._with_validators(request, self.get_response(request))

        key = _entry_key(address, _preferred_coding(request))
        try:
            path_key = path_generation_key(request.path)
            found = get_many([GENERATION_KEY, path_key, key], getattr(request, "page_cache_counters", None))
        except Exception:
            logger.exception("Page cache unavailable; serving uncached")
            return self._with_validators(request, self.get_response(request))

        generation = found.get(GENERATION_KEY)
        path_generation = found.get(path_key)  # None until the page is first invalidated
        entry = found.get(key)
        if (
            entry is not None
            and generation is not None
            and entry["generation"] == generation
            and entry.get("path_generation") == path_generation
        ):
            return _replay(request, entry)

        pages = page_cache()
        if generation is None:
            generation = new_generation()
            try:
                # add(): when two workers race, both keep whichever value won.
                if not pages.add(GENERATION_KEY, generation, timeout=None):
                    generation = pages.get(GENERATION_KEY, generation)
            except Exception:
                logger.exception("Page cache unavailable; serving uncached")
                return self._with_validators(request, self.get_response(request))

        response = self.get_response(request)
        if not _is_storable_response(request, response) or not _is_canonical(request, address):
            return self._with_validators(request, response)
        try:
            if address.params and not _variant_allowed(request, timeout):
                return self._with_validators(request, response)
        except Exception:
            logger.exception("Page cache unavailable; serving uncached")
            return self._with_validators(request, response)

        body = response.content
        bodies = {"identity": body, **encode_page(body, response.get("Content-Type", ""))}
        if len(bodies) > 1:
            patch_vary_headers(response, ("Accept-Encoding",))
        stored_at = int(time.time())
        response.headers["Last-Modified"] = http_date(stored_at)
        response.headers.setdefault("Cache-Control", "no-cache")  # revalidate: a 304 is cheap
        common = {
            "generation": generation,
            "path_generation": path_generation,
            "headers": [
                (name, value) for name, value in response.items() if name.lower() not in _UNSTORED_HEADERS
            ],
            "digest": hashlib.blake2b(body, digest_size=16).hexdigest(),
            "stored_at": stored_at,
        }
        # One entry per preferred coding, so a hit fetches only the bytes it sends. Where an
        # encoding does not pay (a tiny or binary body) its entry holds the plain bytes.
        entries = {}
        for preferred in (*CODINGS, "identity"):
            coding = preferred if preferred in bodies else "identity"
            entries[_entry_key(address, preferred)] = {**common, "coding": coding, "body": bodies[coding]}
        try:
            pages.set_many(entries, timeout=timeout)
        except Exception:
            logger.exception("Could not store a page in the cache")
        # Answer this reader exactly as the next one will be answered from the cache.
        entry = entries[key]
        if entry["coding"] != "identity":
            response.content = entry["body"]
        response.headers["X-Page-Cache"] = "miss"
        return _send(request, response, entry)

    @staticmethod
    def _with_validators(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """ETag/Last-Modified and 304s for pages we do not store (only plain 200 GETs)."""
        if (
            request.method not in ("GET", "HEAD")
            or response.status_code != 200
            or response.streaming
            or response.has_header("ETag")
        ):
            return response
        etag = _validators(response.content)
        response.headers["ETag"] = etag
        response.headers.setdefault("Cache-Control", "no-cache")
        if not response.has_header("Last-Modified"):
            response.headers["Last-Modified"] = formatdate(usegmt=True)
        return get_conditional_response(request, etag=etag, response=response)
