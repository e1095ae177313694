"""Other sites' text and data mining reservations, honoured when extracting an article (the
W3C TDM Reservation Protocol, TDMRep; our own declaration: newsroom/rights.py).

A page's declaration is read, first found wins: its `tdm-reservation` response header, then
the first rule of its origin's /.well-known/tdmrep.json whose location matches the page's
path, then a `<meta name="tdm-reservation">` in its head. "1" reserves the rights: the page's
text is not used and the article keeps the feed's own excerpt. As the protocol says, what
cannot be read (no file, a broken one, a value other than 0 or 1) is no declaration.

The file is fetched like robots.txt (robots.py): through the guarded client, at most
TDMREP_MAX_BYTES, cached per origin for TDMREP_CACHE_SECONDS (15 minutes when the host could
not be reached or answered with a server error, so it is asked again soon).

A reserved page is marked for the desk twice: the article's status reason says so, and a
`tdm-reserved` audit entry (on the review screen's history) keeps it after the status moves on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.core.cache import cache

from articles.models import Article, AuditEntry
from newsroom import http

TDMREP_MAX_BYTES = 128 * 1024
UNREACHABLE_CACHE_SECONDS = 15 * 60
HEAD_BYTES = 64 * 1024
# As in extract.py: a tag is read only up to the next "<", an attribute name from its first
# character, so a scan of hostile bytes stays linear.
META_TAG = re.compile(rb"<meta\b[^<>]*>", re.IGNORECASE)
ATTR = re.compile(rb"""(?<![a-zA-Z:-])([a-zA-Z:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""")
VIA_LABELS = {
    "header": "tdm-reservation header",
    "tdmrep.json": "/.well-known/tdmrep.json",
    "meta": "tdm-reservation meta tag",
}

Rule = tuple[str, int, str]  # (location pattern, reservation 0/1, policy URL)


@dataclass(frozen=True)
class Reservation:
    reserved: bool = False
    via: str = ""  # "header", "tdmrep.json" or "meta"; "" when the page declares nothing
    policy: str = ""

    @property
    def note(self) -> str:
        """What the desk reads in the article's status reason."""
        return f"TDM reservation ({VIA_LABELS.get(self.via, self.via)}): the page's text is not used"


def tdmrep_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/.well-known/tdmrep.json", "", ""))


def _reservation_value(value: Any) -> int | None:
    """0 or 1 (a JSON number, or the text of a header or meta tag); anything else is an error,
    which the protocol reads as no declaration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value.strip())
    return None


def parse_rules(content: bytes) -> list[Rule]:
    """The usable rules of a tdmrep.json document, in its order; [] when it is not a JSON array."""
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(document, list):
        return []
    rules: list[Rule] = []
    for item in document:
        if not isinstance(item, dict) or not isinstance(item.get("location"), str):
            continue
        value = _reservation_value(item.get("tdm-reservation"))
        if value is None:
            continue
        policy = item.get("tdm-policy")
        rules.append((item["location"], value, policy if isinstance(policy, str) else ""))
    return rules


def _rules(url: str) -> list[Rule]:
    key = f"ingest:tdmrep:{tdmrep_url(url)}"
    rules = cache.get(key)
    if rules is not None:
        return [tuple(rule) for rule in rules]
    ttl = int(settings.TDMREP_CACHE_SECONDS)
    try:
        result = http.fetch(tdmrep_url(url), accept="application/json, */*;q=0.5", max_bytes=TDMREP_MAX_BYTES)
        rules = parse_rules(result.content)
    except http.TooLarge:
        rules = []
    except http.HTTPError as exc:
        rules = []
        if exc.status is None or exc.status >= 500 or isinstance(exc, http.RateLimited):
            ttl = UNREACHABLE_CACHE_SECONDS
    except http.FetchError:
        rules, ttl = [], UNREACHABLE_CACHE_SECONDS
    cache.set(key, rules, ttl)
    return rules


def location_matches(pattern: str, path: str) -> bool:
    """Whether a rule's location matches a path, robots.txt style: a prefix, where "*" stands
    for any run of characters and a final "$" anchors the end. Linear: each literal piece is
    found once, left to right."""
    anchored = pattern.endswith("$")
    pieces = (pattern[:-1] if anchored else pattern).split("*")
    if not path.startswith(pieces[0]):
        return False
    position = len(pieces[0])
    if len(pieces) == 1:
        return position == len(path) if anchored else True
    for piece in pieces[1:-1]:
        found = path.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    last = pieces[-1]
    if anchored:
        return path.endswith(last) and len(path) - len(last) >= position
    return path.find(last, position) >= 0


def _meta_declaration(content: bytes) -> tuple[int | None, str]:
    values: dict[str, str] = {}
    for tag in META_TAG.findall(content[:HEAD_BYTES]):
        attrs = {k.lower(): v.strip(b"\"'") for k, v in ATTR.findall(tag)}
        name = attrs.get(b"name", b"").decode("latin-1").strip().lower()
        if name in ("tdm-reservation", "tdm-policy"):
            values.setdefault(name, attrs.get(b"content", b"").decode("utf-8", "replace").strip())
    return _reservation_value(values.get("tdm-reservation")), values.get("tdm-policy", "")


def page_reservation(url: str, *, headers: httpx.Headers, content: bytes) -> Reservation:
    """The TDM declaration of the page fetched from `url` (its final address)."""
    value = _reservation_value(headers.get("tdm-reservation"))
    if value is not None:
        return Reservation(reserved=value == 1, via="header", policy=headers.get("tdm-policy", ""))
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    for pattern, rule_value, policy in _rules(url):
        if location_matches(pattern, path):
            return Reservation(reserved=rule_value == 1, via="tdmrep.json", policy=policy)
    value, policy = _meta_declaration(content)
    if value is not None:
        return Reservation(reserved=value == 1, via="meta", policy=policy)
    return Reservation()


def reservation_record(*, article: Article, reservation: Reservation) -> None:
    """The `tdm-reserved` audit entry for an article whose page reserves its rights (nothing
    otherwise). Written in the caller's transaction, with the article's status change."""
    if reservation.reserved:
        AuditEntry.record(
            "tdm-reserved",
            article=article,
            automatic=True,
            reason=reservation.note,
            policy=reservation.policy,
        )
