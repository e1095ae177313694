"""Response compression: gzip and brotli, chosen by the reader's Accept-Encoding.

Two paths, because of what a body may carry:
- Cached anonymous pages (newsroom/pagecache.py) hold nothing secret: no CSRF token, session,
  nonce or per-reader data (the page cache refuses to store those). They are compressed ONCE,
  when stored, in every encoding (`encode_page`), and a hit only picks the bytes that
  `negotiate` chooses. Brotli is safe there.
- Everything else (logged-in pages, form pages with a CSRF token, pages the cache does not
  store) is gzipped per request by `CompressionMiddleware`, as Django's GZipMiddleware does it
  but at level 1 (`gzip_per_request`): the gzip header is padded with random bytes ("Heal the
  BREACH"), so a secret in the page cannot be read off the compressed length. Brotli has no
  such padding, so it is never used per request.

Static files are whitenoise's business (compressed at collectstatic); they never come here.
"""

from __future__ import annotations

import gzip
import secrets
from collections.abc import Callable, Collection
from functools import lru_cache

import brotli
from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware
from django.utils.cache import patch_vary_headers

# Below this many bytes the headers cost more than compression saves (Django uses the same).
MIN_SIZE = 200
# Brotli 5 compresses a 30 KB page in about a millisecond, within a few per cent of quality 11
# (which takes ~10x longer); a page is compressed once per store, on a cache miss.
BROTLI_QUALITY = 5
GZIP_LEVEL = 6
# Per request (logged-in pages) gzip runs on every response, so it runs at level 1: on a 15.7 KB
# article page 49 us instead of 110 us at level 6, for 4.3 KB instead of 3.8 KB (issue #16). The
# level changes nothing for BREACH: what the attack measures, LZ77 matches of a guess against a
# secret, happens at every level. The defences are the same as Django's GZipMiddleware: the CSRF
# token is masked afresh on every response, and the header carries up to MAX_RANDOM_BYTES - 1
# random bytes of padding, so the length of one response tells nothing exact.
PER_REQUEST_GZIP_LEVEL = 1
MAX_RANDOM_BYTES = GZipMiddleware.max_random_bytes
# Content types worth compressing; images, archives and the like are compressed already.
_COMPRESSIBLE = ("text/", "application/json", "application/xml", "application/rss+xml",
                 "application/atom+xml", "application/feed+json", "application/javascript",
                 "image/svg+xml")  # fmt: skip
# An Accept-Encoding header longer than this is not worth parsing: it gets identity.
_MAX_HEADER = 512
# The codings we send, in our preference when a reader weighs them equally: smaller first.
CODINGS = ("br", "gzip")


def is_compressible(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower().startswith(_COMPRESSIBLE)


def encode_page(body: bytes, content_type: str) -> dict[str, bytes]:
    """The compressed forms of a page worth storing: {"br": ..., "gzip": ...}, each only if smaller.

    gzip is written with mtime=0, so the same page always gives the same bytes (and ETag).
    """
    if len(body) < MIN_SIZE or not is_compressible(content_type):
        return {}
    encoded = {
        "br": brotli.compress(body, quality=BROTLI_QUALITY),
        "gzip": gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0),
    }
    return {coding: data for coding, data in encoded.items() if len(data) < len(body)}


def gzip_per_request(body: bytes) -> bytes:
    """Django's compress_string(body, max_random_bytes=MAX_RANDOM_BYTES) at level 1: the gzip
    header names a file of random length (FNAME), so equal pages differ in length."""
    compressed = gzip.compress(body, compresslevel=PER_REQUEST_GZIP_LEVEL, mtime=0)
    header = bytearray(compressed[:10])
    header[3] = gzip.FNAME
    padding = b"a" * secrets.randbelow(MAX_RANDOM_BYTES) + b"\x00"
    return bytes(header) + padding + compressed[10:]


@lru_cache(maxsize=256)
def _weights(header: str) -> tuple[dict[str, float], float | None]:
    """Accept-Encoding parsed into {coding: q} and the weight of `*` (None when absent).

    Plain string splitting over a capped header: no regex, bounded cost. A malformed q
    makes its entry count as refused (q=0), never as accepted.
    """
    weights: dict[str, float] = {}
    star: float | None = None
    for item in header[:_MAX_HEADER].lower().split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip()
        if not coding:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:  # also rejects nan
                    q = 0.0
        if coding == "x-gzip":
            coding = "gzip"
        if coding == "*":
            star = q
        else:
            weights[coding] = q
    return weights, star


def negotiate(accept_encoding: str, available: Collection[str]) -> str:
    """The coding to send: the reader's highest-weighted one among `available`, else "identity".

    No Accept-Encoding header means identity (RFC 9110 allows anything, but clients that
    send none, like curl and load generators, expect plain bytes). `*` stands for any coding
    the header does not name; `q=0` refuses one. Ties go to brotli, the smaller.
    """
    if not accept_encoding or not available:
        return "identity"
    weights, star = _weights(accept_encoding)
    best, best_q = "identity", 0.0
    for coding in CODINGS:
        if coding not in available:
            continue
        q = weights.get(coding, star if star is not None else 0.0)
        if q > best_q:
            best, best_q = coding, q
    return best


class CompressionMiddleware:
    """Gzip per request what the page cache did not already answer in a chosen encoding.

    Sits first in MIDDLEWARE, above the page cache: a cached page arrives negotiated (it
    carries X-Page-Cache), and is passed through untouched, so a hit costs no compression.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self._gzip = GZipMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if response.has_header("X-Page-Cache") or response.has_header("Content-Encoding"):
            return response
        if not response.streaming and len(response.content) < MIN_SIZE:
            return response
        if not is_compressible(response.get("Content-Type", "")):
            return response
        if negotiate(request.META.get("HTTP_ACCEPT_ENCODING", ""), ("gzip",)) != "gzip":
            patch_vary_headers(response, ("Accept-Encoding",))
            return response
        if response.streaming:
            return self._gzip.process_response(request, response)
        # GZipMiddleware.process_response, with gzip_per_request() for its compress_string().
        patch_vary_headers(response, ("Accept-Encoding",))
        compressed = gzip_per_request(response.content)
        if len(compressed) >= len(response.content):
            return response
        response.content = compressed
        response.headers["Content-Length"] = str(len(compressed))
        etag = response.get("ETag")
        if etag and etag.startswith('"'):
            # The bytes are no longer the page's: weak, as Django's middleware makes it.
            response.headers["ETag"] = "W/" + etag
        response.headers["Content-Encoding"] = "gzip"
        return response
