"""Main text and metadata from an article page, with trafilatura. Pure: bytes in, data out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import trafilatura
from charset_normalizer import from_bytes
from django.utils.dateparse import parse_date, parse_datetime

from .parse import CHARSET_SUPERSETS
from .urls import canonical_url

HEAD_BYTES = 64 * 1024
# Page bytes are untrusted, so each pattern reads a tag only up to the next "<" ([^<>]): a
# scan starting at one "<meta", "<html" or "<link" never runs past the next one, which keeps
# the work linear even on "<link<link<link..." with no ">" (where [^>]* rescanned the rest
# of the page from every start, quadratically).
# (?:["']\s*)? rather than ["']?\s*: two \s* in a row could split one run of spaces in every
# possible way before failing.
META_CHARSET = re.compile(rb"""<meta\b[^<>]*?charset\s*=\s*(?:["']\s*)?([a-zA-Z0-9_\-]+)""", re.IGNORECASE)
HTML_LANG = re.compile(
    r"""<html\b[^<>]*?\slang\s*=\s*["']?([a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})?)""", re.IGNORECASE
)
LINK_TAG = re.compile(r"<link\b[^<>]*>", re.IGNORECASE)
# An attribute name is matched only from its first letter (the look-behind), so a long run
# of letters without "=" costs one pass, not one pass per letter.
ATTR = re.compile(r"""(?<![a-zA-Z:-])([a-zA-Z:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""")
# Labels browsers treat as their superset; decoding with the superset loses nothing.


class ExtractionError(Exception):
    error_class = "extract-failed"


@dataclass
class ExtractedPage:
    text: str
    title: str = ""
    author: str = ""
    published: datetime | None = None
    language: str = ""
    image_url: str = ""
    canonical_url: str = ""


def decode_html(content: bytes, *, declared: str = "") -> str:
    """Decode page bytes. Try the HTTP charset and every <meta charset> in the head, and take
    the first that decodes cleanly (an archived page may carry the archive's utf-8 meta before
    its own gb2312 one); failing that, let charset_normalizer guess."""
    candidates: list[str] = []
    if declared:
        candidates.append(declared)
    candidates += [m.decode("ascii", "ignore") for m in META_CHARSET.findall(content[:HEAD_BYTES])]
    candidates.append("utf-8")
    for label in dict.fromkeys(c.strip().lower() for c in candidates if c.strip()):
        label = CHARSET_SUPERSETS.get(label, label)
        try:
            return content.decode(label)
        except (LookupError, UnicodeDecodeError):
            continue
    best = from_bytes(content[: HEAD_BYTES * 4]).best()
    return content.decode(best.encoding if best else "utf-8", errors="replace")


def _canonical_link(html: str, base: str) -> str:
    for tag in LINK_TAG.findall(html[: HEAD_BYTES * 4]):
        attrs = {k.lower(): v.strip("\"'") for k, v in ATTR.findall(tag)}
        if "canonical" in attrs.get("rel", "").lower().split() and attrs.get("href"):
            return canonical_url(attrs["href"], base=base)
    return ""


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value[:10])
        if day is None:
            return None
        parsed = datetime(day.year, day.month, day.day)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def extract_page(content: bytes | str, *, url: str, declared_charset: str = "") -> ExtractedPage:
    """Extract the article from a page. Raises ExtractionError when nothing usable is found."""
    html = content if isinstance(content, str) else decode_html(content, declared=declared_charset)
    try:
        doc = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            favor_recall=True,
        )
    except Exception as exc:  # noqa: BLE001 - a library crash on one page is that page's failure
        raise ExtractionError(f"{type(exc).__name__}: {exc}") from exc
    if doc is None or not (doc.text or "").strip():
        raise ExtractionError("No main text found on the page.")
    language = doc.language or ""
    if not language:
        match = HTML_LANG.search(html[:HEAD_BYTES])
        language = match.group(1) if match else ""
    return ExtractedPage(
        text=doc.text.strip(),
        title=(doc.title or "").strip(),
        author=(doc.author or "").strip(),
        published=_date(doc.date),
        language=language.lower()[:16],
        image_url=doc.image or "",
        canonical_url=_canonical_link(html, url),
    )
