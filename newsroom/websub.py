"""The WebSub protocol (W3C Recommendation, https://www.w3.org/TR/websub/) as both sides use it:
finding a feed's hub, form POSTs to a hub through the guarded client, and push signatures.

WebSub in (articles/ingest/websub.py) subscribes to the hubs our sources name; WebSub out
(articles/reader/websub.py) pings our own hub when a publication changes our feeds. No ORM here.

Every scan of feed bytes or header values is linear: patterns read a tag or a link only up to
the next "<", and attribute names are matched from their first character.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from newsroom import http

# Feed-level links sit before the first entry; a feed's head is far smaller than this.
HEAD_BYTES = 256 * 1024
# <link ...>, <atom:link ...>, <atom10:link ...>: the element under any namespace prefix.
LINK_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?link\b[^<>]*>", re.IGNORECASE)
FIRST_ENTRY = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?(?:entry|item)\b", re.IGNORECASE)
XML_ATTR = re.compile(rb"""(?<![\w:.\-])([\w:.\-]+)\s*=\s*("[^"]*"|'[^']*')""")
# Link: <https://hub.example/>; rel="hub", <https://example.org/feed>; rel="self"
LINK_VALUE = re.compile(r"<([^<>]*)>([^<]*)")
REL_PARAM = re.compile(r"""(?<![\w-])rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)
# The algorithms a hub may sign with (WebSub §8); sha1 only because the Recommendation lists it.
SIGNATURE_ALGORITHMS = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
# What a hub's answer may add to an error message; the rest of its body is never read.
ERROR_BODY_BYTES = 1024


class HubError(Exception):
    """A hub refused a request or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status

    @property
    def retryable(self) -> bool:
        """Worth asking again later: unreachable, rate-limited or a server error."""
        return self.status is None or self.status == 429 or self.status >= 500


@dataclass(frozen=True)
class HubLinks:
    hub: str = ""
    topic: str = ""


def _http_url(url: str, *, base: str) -> str:
    url = urljoin(base, url.strip())
    return url if urlsplit(url).scheme in ("http", "https") and len(url) <= 1000 else ""


def link_header_rels(values: list[str], *, base: str) -> dict[str, str]:
    """{rel: url} from Link header values, the first URL for each relation."""
    rels: dict[str, str] = {}
    for value in values:
        for target, params in LINK_VALUE.findall(value):
            url = _http_url(target, base=base)
            for quoted, bare in REL_PARAM.findall(params):
                for rel in (quoted or bare).lower().split():
                    if url:
                        rels.setdefault(rel, url)
    return rels


def feed_link_rels(content: bytes, *, base: str) -> dict[str, str]:
    """{rel: url} from the feed-level <link> elements (Atom's own and RSS's atom:link), the
    first URL for each relation. Links inside entries are not the feed's and are not read."""
    head = content[:HEAD_BYTES]
    entry = FIRST_ENTRY.search(head)
    if entry:
        head = head[: entry.start()]
    rels: dict[str, str] = {}
    for element in LINK_ELEMENT.findall(head):
        attrs = {name.lower(): value[1:-1] for name, value in XML_ATTR.findall(element)}
        # The attribute value is XML text: &amp; in it stands for "&".
        href = html.unescape(attrs.get(b"href", b"").decode("utf-8", "replace"))
        url = _http_url(href, base=base) if href else ""
        for rel in attrs.get(b"rel", b"").decode("utf-8", "replace").lower().split():
            if url:
                rels.setdefault(rel, url)
    return rels


def discover(*, content: bytes, headers: httpx.Headers, url: str) -> HubLinks:
    """The hub a fetched feed names, and the topic (its rel="self" URL, else `url`, the address
    it was fetched from). Link headers come first (WebSub §4), then the feed's own links.
    No hub: an empty HubLinks."""
    for rels in (
        link_header_rels(headers.get_list("link"), base=url),
        feed_link_rels(content, base=url),
    ):
        if rels.get("hub"):
            return HubLinks(hub=rels["hub"], topic=rels.get("self") or url)
    return HubLinks()


def signature_valid(*, secret: str, body: bytes, header: str) -> bool:
    """Whether an X-Hub-Signature header ("sha256=<hex>") is the HMAC of `body` under `secret`,
    compared in constant time. A missing header or an unknown algorithm is not valid."""
    method, _, digest = header.strip().partition("=")
    algorithm = SIGNATURE_ALGORITHMS.get(method.strip().lower())
    if algorithm is None or not digest or not secret:
        return False
    expected = hmac.new(secret.encode(), body, algorithm).hexdigest()
    return hmac.compare_digest(expected.encode(), digest.strip().lower().encode("utf-8", "replace"))


def hub_post(hub_url: str, fields: dict[str, str | list[str]]) -> int:
    """POST form fields to a hub through the guarded client (no redirects followed); return the
    2xx status. Raises HubError for any other answer or a failure to reach the hub."""
    try:
        http.check_url_allowed(hub_url)
        with (
            http.make_guarded_client(follow_redirects=False) as client,
            client.stream("POST", hub_url, data=fields) as response,
        ):
            if 200 <= response.status_code < 300:
                return response.status_code
            detail = _first_bytes(response).decode("utf-8", "replace").strip()
            raise HubError(
                f"HTTP {response.status_code}{': ' + detail if detail else ''}", status=response.status_code
            )
    except http.FetchError as exc:
        raise HubError(f"{exc.error_class}: {exc}", status=exc.status) from exc
    except httpx.HTTPError as exc:
        raise HubError(f"{type(exc).__name__}: {exc}") from exc


def _first_bytes(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= ERROR_BODY_BYTES:
            break
    return b"".join(chunks)[:ERROR_BODY_BYTES]
