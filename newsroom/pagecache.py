"""Anonymous page cache: a middleware at the top of the stack, and its invalidation.

Anonymous readers are most of the traffic and they all see the same bytes, so a GET
without a session cookie is answered with ONE cache round trip (`get_many` of the page
entry and the global generation: a single MGET on Redis), before sessions, auth, CSRF or
any view runs. Django's `cache_page` is much slower on this path because it pickles whole
HttpResponse objects and runs behind the full middleware stack (issue #6 measured
0.3-0.45x of a bare view); here we store only the body and a few headers.

Rules:
- Only GET/HEAD, only requests without a session/messages cookie or Authorization header,
  only paths outside PAGE_CACHE_EXCLUDE_PREFIXES.
- A response is stored only if it is a 200, not streaming, sets no cookie (a CSRF token or
  session in the page would leak to everyone), did not use a CSP nonce (a cached nonce is
  no nonce), and is not marked `Cache-Control: private/no-store`.
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
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from email.utils import formatdate

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import get_conditional_response
from django.utils.http import http_date

logger = logging.getLogger(__name__)

GENERATION_KEY = "pagecache:generation"
PATH_GENERATION_PREFIX = "pagecache:generation:"
ENTRY_PREFIX = "pagecache:page:"
# Headers a view may set that must not be replayed to other readers.
_UNSTORED_HEADERS = frozenset({"set-cookie", "date", "content-length"})


def new_generation() -> int:
    # Nanoseconds: a counter lost to eviction restarts at a value no stored entry carries,
    # so eviction can never resurrect a stale page.
    return time.time_ns()


def _path_generation_key(path: str) -> str:
    return PATH_GENERATION_PREFIX + hashlib.blake2b(path.encode(), digest_size=16).hexdigest()


def invalidate_pages(path: str | None = None) -> None:
    """Make every cached page (or only the pages at `path`) stale: one counter bump, O(1)."""
    key = GENERATION_KEY if path is None else _path_generation_key(path)
    try:
        cache.incr(key)
    except ValueError:  # counter missing (fresh cache or evicted): start a new one
        cache.set(key, new_generation(), timeout=None)
    except Exception:  # a cache outage must not fail the write that triggered us
        logger.exception("Could not invalidate the page cache")


def get_many(keys: list[str]) -> dict:
    """cache.get_many(), minus the cost of Django building a new redis.Redis per call.

    On a hit this is the whole cost of a page, so with the Redis backend we keep one client
    per cache instance (per worker thread) on top of Django's own connection pool, and use
    Django's key function and serializer so entries stay readable by `cache.get()`.
    """
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return backend.get_many(keys)
    client = getattr(backend, "_pagecache_client", None)
    if client is None:
        client = backend._cache.get_client(write=False)
        backend._pagecache_client = client
    values = client.mget([backend.make_and_validate_key(key) for key in keys])
    loads = backend._cache._serializer.loads
    return {key: loads(value) for key, value in zip(keys, values, strict=True) if value is not None}


def _entry_key(request: HttpRequest) -> str:
    scheme = "https" if request.is_secure() else "http"
    raw = f"{scheme}://{request.META.get('HTTP_HOST', '')}{request.get_full_path()}"
    return ENTRY_PREFIX + hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def _is_cacheable_request(request: HttpRequest) -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    if "HTTP_AUTHORIZATION" in request.META:
        return False
    cookies = request.COOKIES
    if any(name in cookies for name in settings.PAGE_CACHE_BYPASS_COOKIES):
        return False
    return not request.path.startswith(tuple(settings.PAGE_CACHE_EXCLUDE_PREFIXES))


def _is_storable_response(request: HttpRequest, response: HttpResponseBase) -> bool:
    if response.status_code != 200 or response.streaming or response.cookies:
        return False
    if getattr(request, "_csp_nonce", None):  # a LazyNonce is truthy once it was used
        return False
    cache_control = response.get("Cache-Control", "")
    return "private" not in cache_control and "no-store" not in cache_control


def _validators(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _replay(request: HttpRequest, entry: dict) -> HttpResponseBase:
    response = HttpResponse(b"" if request.method == "HEAD" else entry["body"], status=200)
    for name, value in entry["headers"]:
        response.headers[name] = value
    response.headers["X-Page-Cache"] = "hit"
    # A HEAD answer states the length of the GET body it stands for.
    response.headers["Content-Length"] = str(len(entry["body"]))
    conditional = get_conditional_response(
        request, etag=entry["headers_etag"], last_modified=entry["stored_at"], response=response
    )
    return conditional


class AnonymousPageCacheMiddleware:
    """Serve anonymous GETs from the cache with one round trip; store cacheable pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        timeout = settings.PAGE_CACHE_SECONDS
        if not _is_cacheable_request(request):
            return self.get_response(request)
        if timeout <= 0:
            return self._with_validators(request, self.get_response(request))

        key = _entry_key(request)
        try:
            path_generation_key = _path_generation_key(request.path)
            found = get_many([GENERATION_KEY, path_generation_key, key])
        except Exception:
            logger.exception("Page cache unavailable; serving uncached")
            return self._with_validators(request, self.get_response(request))

        generation = found.get(GENERATION_KEY)
        path_generation = found.get(path_generation_key)  # None until the page is first invalidated
        entry = found.get(key)
        if (
            entry is not None
            and generation is not None
            and entry["generation"] == generation
            and entry.get("path_generation") == path_generation
        ):
            return _replay(request, entry)

        if generation is None:
            generation = new_generation()
            try:
                # add(): when two workers race, both keep whichever value won.
                if not cache.add(GENERATION_KEY, generation, timeout=None):
                    generation = cache.get(GENERATION_KEY, generation)
            except Exception:
                logger.exception("Page cache unavailable; serving uncached")
                return self._with_validators(request, self.get_response(request))

        response = self.get_response(request)
        if not _is_storable_response(request, response):
            return self._with_validators(request, response)

        body = response.content
        stored_at = int(time.time())
        etag = _validators(body)
        response.headers["ETag"] = etag
        response.headers["Last-Modified"] = http_date(stored_at)
        response.headers["X-Page-Cache"] = "miss"
        response.headers.setdefault("Cache-Control", "no-cache")  # revalidate: a 304 is cheap
        headers = [
            (name, value)
            for name, value in response.items()
            if name.lower() not in _UNSTORED_HEADERS and name.lower() != "x-page-cache"
        ]
        entry = {
            "generation": generation,
            "path_generation": path_generation,
            "body": body,
            "headers": headers,
            "headers_etag": etag,
            "stored_at": stored_at,
        }
        try:
            cache.set(key, entry, timeout=timeout)
        except Exception:
            logger.exception("Could not store a page in the cache")
        return get_conditional_response(request, etag=etag, last_modified=stored_at, response=response)

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
