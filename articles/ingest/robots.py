"""robots.txt for article pages, fetched through the guarded client and cached per host.

Feeds are published for machines and are not checked; article pages are. Rules follow
RFC 9309: a missing robots.txt (4xx) allows everything; a server error or an unreachable
host disallows everything for now, and that verdict is cached only briefly.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from django.conf import settings
from django.core.cache import cache

from newsroom import http

ALLOW_ALL = ""
DISALLOW_ALL = "User-agent: *\nDisallow: /\n"
UNREACHABLE_CACHE_SECONDS = 15 * 60
ROBOTS_MAX_BYTES = 512 * 1024  # Google reads the first 500 KiB; so do we


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))


def _robots_text(url: str) -> str:
    key = f"ingest:robots:{robots_url(url)}"
    text = cache.get(key)
    if text is not None:
        return text
    ttl = int(settings.ROBOTS_CACHE_SECONDS)
    try:
        result = http.fetch(robots_url(url), accept="text/plain, */*;q=0.5", max_bytes=ROBOTS_MAX_BYTES)
        text = result.content.decode("utf-8", errors="replace")
    except http.TooLarge:
        text = ALLOW_ALL
    except http.HTTPError as exc:
        if exc.status is not None and 400 <= exc.status < 500 and not isinstance(exc, http.RateLimited):
            text = ALLOW_ALL
        else:
            text, ttl = DISALLOW_ALL, UNREACHABLE_CACHE_SECONDS
    except http.FetchError:
        text, ttl = DISALLOW_ALL, UNREACHABLE_CACHE_SECONDS
    cache.set(key, text, ttl)
    return text


def robots_allowed(url: str, *, user_agent: str | None = None) -> bool:
    """May our bot fetch `url`? One robots.txt request per host per ROBOTS_CACHE_SECONDS."""
    parser = RobotFileParser()
    parser.parse(_robots_text(url).splitlines())
    agent = (user_agent or settings.FETCH_USER_AGENT).split("/", 1)[0]
    return parser.can_fetch(agent, url)
