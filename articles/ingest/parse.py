"""Feed parsing: fastfeedparser first, feedparser when it raises or finds nothing.

Both are fed the bytes our guarded client fetched, never a URL (either would fetch it
with its own HTTP). The document is decoded here once (BOM, UTF-16/32 byte pattern, XML
declaration, else UTF-8 or a guess) and both parsers get that text as UTF-8, so they read
exactly what was checked: a document whose prolog declares entities or carries any other
DTD markup is refused before any parser sees it, whatever its encoding or padding, so
neither a billion-laughs bomb nor an external entity (XXE) can be expanded; fastfeedparser's
lxml parser also runs with resolve_entities=False.

Every scan of untrusted text here is linear: prefix checks and str.find loops, and regular
expressions whose parts cannot match the same text two ways (no nested or adjacent
quantifiers over overlapping characters), so no input makes them backtrack.
"""

from __future__ import annotations

import calendar
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import fastfeedparser
import feedparser
import nh3
from charset_normalizer import from_bytes
from django.conf import settings
from django.utils.dateparse import parse_datetime

HEAD_BYTES = 256 * 1024
# A title, author or feed name longer than this is cut before its tags are stripped: the
# stored fields hold at most 500 characters, and the cut bounds the work on hostile input.
SINGLE_LINE_MAX_CHARS = 2000
# Anchored at the start of the (sliced) head, so it is tried at one position only.
XML_ENCODING = re.compile(
    r"""^(\s*<\?xml\b[^>]*?\bencoding\s*=\s*["'])([A-Za-z0-9._\-]+)(["'])""", re.IGNORECASE
)
XML_DECLARATION_CHARS = 1024
# Markup declarations only a DTD holds; DTD_MARKUP also matches the DOCTYPE itself.
DECLARATION = re.compile(r"<!\s*(?:ENTITY|ATTLIST|ELEMENT|NOTATION)\b", re.IGNORECASE)
DTD_MARKUP = re.compile(r"<!\s*(?:DOCTYPE|ENTITY|ATTLIST|ELEMENT|NOTATION)\b", re.IGNORECASE)
FEED_ROOT = re.compile(r"<(?:rss|feed|rdf:RDF)[\s>]")
# The first element must start within this many characters: real prologs (declaration,
# a comment or two, a DOCTYPE) are tiny, and the cap bounds the walk over hostile padding.
PROLOG_MAX_CHARS = HEAD_BYTES
# What the prolog walk stops at: an instruction, a comment, a DOCTYPE or an element.
PROLOG_MARKUP = re.compile(r"<(?:\?|!--|!DOCTYPE|[A-Za-z_:])", re.IGNORECASE)
# Nothing follows the repetition, so a long name is read once, never backtracked.
ELEMENT_NAME = re.compile(r"[A-Za-z_:][\w:.\-]*")
DOCTYPE_STOP = re.compile(r"""[\[>"']""")
BLOCK_START = re.compile(
    r"<(p|div|br|li|ul|ol|h[1-6]|blockquote|pre|tr|table|section|article|figure|figcaption)\b", re.IGNORECASE
)
BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
# Labels browsers treat as their superset; decoding with the superset loses nothing.
# Labels pages and feeds declare for a narrower charset than their bytes use (browsers decode
# them as the superset); shared with page extraction (extract.py).
CHARSET_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "iso-8859-1": "cp1252", "latin1": "cp1252"}
UTF8_LABELS = frozenset({"", "utf-8", "utf8"})


class FeedError(Exception):
    """The body is not a feed we can read."""

    error_class = "not-a-feed"


class UnsafeFeed(FeedError):
    """The document carries a DTD with declarations: refused unparsed (billion laughs, XXE)."""

    error_class = "unsafe-xml"


class FeedTooLarge(FeedError):
    """The body is over FETCH_MAX_BYTES; it is refused unread."""

    error_class = "too-large"


@dataclass
class ParsedEntry:
    title: str
    link: str
    guid: str = ""
    author: str = ""
    published: datetime | None = None
    summary: str = ""  # plain text of the description, only for entries without content
    content: str = ""  # plain text of content:encoded / atom:content, when present


@dataclass
class ParsedFeed:
    title: str = ""
    link: str = ""
    ttl_minutes: int | None = None
    parser: str = ""
    entries: list[ParsedEntry] = field(default_factory=list)


# --- Text helpers ---------------------------------------------------------------------------

# `[^<>]*` stops at the next "<", so each "<" is the start of at most one scan: linear even
# on "<a<a<a..." with no ">" at all (where `[^>]*` rescanned to the end from every "<").
TAG = re.compile(r"</?[a-zA-Z][^<>]*>")


def html_to_text(value: str | None, *, single_line: bool = False) -> str:
    """Plain text from a feed field that may hold HTML.

    The parser already undid the XML escaping once. A single-line field (a title) is cut to
    SINGLE_LINE_MAX_CHARS first, and read as HTML only when it really holds tags, so
    "&amp;lt;3" in the XML ends as "&lt;3", not "<3": unescaped once, not twice. Multi-line
    fields (summary, content) are HTML by nature.
    """
    value = (value or "").strip()
    if single_line:
        value = value[:SINGLE_LINE_MAX_CHARS]
    if not value:
        return ""
    if TAG.search(value) if single_line else ("<" in value or "&" in value):
        # nh3 (html5ever) strips every tag and drops script/style bodies; a newline goes in
        # before each block element first so paragraphs stay apart. 2-3x faster than lxml.
        value = html.unescape(nh3.clean(BLOCK_START.sub(r"\n<\1", value), tags=set()))
    if single_line:
        return " ".join(value.split())
    # str.split beats a whitespace regex here by ~7x on long content (measured).
    lines = (" ".join(line.split()) for line in value.splitlines())
    return "\n".join(line for line in lines if line)


# --- Reading the bytes ----------------------------------------------------------------------


def _wide_encoding(first: bytes) -> str:
    """UTF-16/32 without a BOM, told by where the zero bytes of the first ASCII character
    fall (XML 1.0, appendix F)."""
    if len(first) >= 4 and first[1:3] == b"\x00\x00":
        return "utf-32-le" if first[0] and not first[3] else ""
    if len(first) >= 4 and first[:3] == b"\x00\x00\x00" and first[3]:
        return "utf-32-be"
    if len(first) >= 2 and not first[0] and first[1]:
        return "utf-16-be"
    if len(first) >= 2 and first[0] and not first[1]:
        return "utf-16-le"
    return ""


def _declared_encoding(content: bytes) -> str:
    head = content[:XML_DECLARATION_CHARS].decode("latin-1")
    declared = XML_ENCODING.match(head)
    return declared.group(2).lower() if declared else ""


def decode_document(content: bytes) -> tuple[str, bool]:
    """The document as text, and whether `content` already was that text as plain UTF-8.

    Order: a byte-order mark; the zero-byte pattern of UTF-16/32; the XML declaration's label
    (or its superset); UTF-8; charset_normalizer's guess, decoding with replacement. A label
    that names no codec, or that the bytes do not fit, falls through to the next rule.
    """
    for bom, codec in BOMS:
        if content.startswith(bom):
            return content[len(bom) :].decode(codec, errors="replace"), False
    wide = _wide_encoding(content[:4])
    if wide:
        return content.decode(wide, errors="replace"), False
    label = _declared_encoding(content)
    # A UTF-16/32 label on bytes whose declaration we just read as ASCII is false.
    if label not in UTF8_LABELS and not label.startswith(("utf-16", "utf16", "utf-32", "utf32", "ucs")):
        for codec in dict.fromkeys((CHARSET_SUPERSETS.get(label, label), label)):
            try:
                return content.decode(codec), False  # "hex" or "rot13" raise LookupError here
            except (LookupError, UnicodeError):
                continue
    try:
        return content.decode("utf-8"), label in UTF8_LABELS
    except UnicodeDecodeError:
        # Undeclared or falsely declared UTF-8 (a KOI8-R or Latin-1 feed, say): guess once.
        best = from_bytes(content[:HEAD_BYTES]).best()
        return content.decode(best.encoding if best else "utf-8", errors="replace"), False


def utf8_document(text: str) -> bytes:
    """`text` as UTF-8 bytes whose XML declaration, if it names an encoding, says utf-8."""
    head, rest = text[:XML_DECLARATION_CHARS], text[XML_DECLARATION_CHARS:]
    head = XML_ENCODING.sub(r"\g<1>utf-8\g<3>", head, count=1)
    return (head + rest).encode("utf-8", errors="replace")


@dataclass
class Prolog:
    """What comes before a document's first element."""

    root_start: int | None  # index of the first element's "<"; None when none starts in time
    root_name: str = ""
    doctype: str = ""  # what follows "<!DOCTYPE", when the prolog has one
    declares: bool = False  # an internal DTD subset or a markup declaration (<!ENTITY ...)


def _doctype_end(text: str, pos: int, limit: int) -> tuple[int, bool]:
    """Where the DOCTYPE whose name starts at `pos` ends, and whether it opens an internal
    subset ("["). Quoted identifiers are skipped whole: a ">" or "[" inside them is text."""
    while True:
        stop = DOCTYPE_STOP.search(text, pos, limit)
        if stop is None:
            return limit, False
        if stop.group() in "[>":
            return stop.end(), stop.group() == "["
        close = text.find(stop.group(), stop.end(), limit)
        if close < 0:
            return limit, False
        pos = close + 1


def read_prolog(text: str, *, limit: int = PROLOG_MAX_CHARS) -> Prolog:
    """Walk what precedes the first element, within its first `limit` characters: processing
    instructions, comments, the DOCTYPE and stray text. Linear: every step jumps ahead with
    a search that cannot backtrack.

    `declares` is true for an internal DTD subset, and for any ENTITY, ATTLIST, ELEMENT or
    NOTATION declaration anywhere before the first element, inside comments too (feedparser
    lifts entity declarations out of any line before the first element)."""
    limit = min(limit, len(text))
    pos, doctype = 0, ""
    while (mark := PROLOG_MARKUP.search(text, pos, limit)) is not None:
        lt, kind = mark.start(), mark.group()
        if kind == "<?":
            end = text.find("?>", lt + 2, limit)
            pos = end + 2
        elif kind == "<!--":
            end = text.find("-->", lt + 4, limit)
            pos = end + 3
        elif kind.startswith("<!"):
            end, subset = _doctype_end(text, mark.end(), limit)
            if subset:
                return Prolog(root_start=None, doctype=text[mark.end() : end - 1].strip(), declares=True)
            doctype = doctype or text[mark.end() : end - 1].strip()
            pos = end
        else:
            root = ELEMENT_NAME.match(text, lt + 1, min(lt + 101, len(text)))
            return Prolog(
                root_start=lt,
                root_name=root.group() if root else "",
                doctype=doctype,
                declares=DECLARATION.search(text, 0, lt) is not None,
            )
        if end < 0:  # a comment or instruction still open at the limit
            break
    return Prolog(root_start=None, doctype=doctype, declares=DECLARATION.search(text, 0, limit) is not None)


def prepare_bytes(content: bytes) -> bytes:
    """The document as UTF-8 for both parsers; refuse what is too large, empty, HTML, or
    carries DTD declarations (in any encoding, at any offset)."""
    if len(content) > settings.FETCH_MAX_BYTES:
        raise FeedTooLarge(f"The document is over the {settings.FETCH_MAX_BYTES}-byte limit.")
    if not content or not content.strip():
        raise FeedError("The response body is empty.")
    text, unchanged = decode_document(content)
    if not text.strip():
        raise FeedError("The response body is empty.")
    if text.lstrip().startswith(("{", "[")):
        return content if unchanged else text.encode("utf-8", errors="replace")  # JSON Feed
    prolog = read_prolog(text)
    if prolog.declares:
        raise UnsafeFeed("The document declares a DTD (entities or other declarations); refused unparsed.")
    if prolog.root_start is None:
        raise FeedError(f"No element starts in the first {PROLOG_MAX_CHARS} characters of the document.")
    is_html = prolog.root_name.lower() == "html" or prolog.doctype.lower().startswith("html")
    if is_html and not FEED_ROOT.search(text, 0, HEAD_BYTES):
        raise FeedError("The URL serves an HTML page, not a feed.")
    return content if unchanged else utf8_document(text)


def _aware(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _ttl(value: object) -> int | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes if minutes > 0 else None


# --- The two parsers ------------------------------------------------------------------------


def _content_text(entry: dict) -> str:
    content = entry.get("content")
    if isinstance(content, list) and content:
        return html_to_text("\n".join(str(c.get("value", "")) for c in content if isinstance(c, dict)))
    if isinstance(content, str):
        return html_to_text(content)
    return ""


def _texts(summary_html: object, entry: dict) -> dict[str, str]:
    # The summary is only a fallback for entries without full content; converting it anyway
    # would double the HTML work for the usual content:encoded feed.
    content = _content_text(entry)
    summary = html_to_text(str(summary_html or "")) if not content else ""
    return {"summary": summary, "content": content}


def _parsed_feed(
    data: dict, *, parser: str, published: Callable[[dict], datetime | None], summary_key: str
) -> ParsedFeed:
    """The two parsers' results in one shape; they differ only in date and summary fields."""
    feed = data.get("feed", {}) or {}
    parsed = ParsedFeed(
        title=html_to_text(feed.get("title"), single_line=True),
        link=str(feed.get("link") or ""),
        ttl_minutes=_ttl(feed.get("ttl")),
        parser=parser,
    )
    for entry in data.get("entries", []) or []:
        parsed.entries.append(
            ParsedEntry(
                title=html_to_text(entry.get("title"), single_line=True),
                link=str(entry.get("link") or ""),
                guid=str(entry.get("id") or ""),
                author=html_to_text(entry.get("author"), single_line=True),
                published=published(entry),
                **_texts(entry.get(summary_key), entry),
            )
        )
    return parsed


def parse_with_fastfeedparser(content: bytes) -> ParsedFeed:
    data = fastfeedparser.parse(content)  # bytes, never a URL string: it would fetch it itself
    return _parsed_feed(
        data,
        parser="fastfeedparser",
        published=lambda entry: _aware(entry.get("published") or entry.get("updated")),
        summary_key="description",
    )


def _struct_time(value: object) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None


def parse_with_feedparser(content: bytes) -> ParsedFeed:
    # sanitize_html off: we turn every field into plain text ourselves, and its sanitiser is
    # the slow part; resolve_relative_uris off for the same reason.
    data = feedparser.parse(content, sanitize_html=False, resolve_relative_uris=False)
    parsed = _parsed_feed(
        data,
        parser="feedparser",
        published=lambda entry: _struct_time(entry.get("published_parsed") or entry.get("updated_parsed")),
        summary_key="summary",
    )
    if not parsed.entries and (data.get("bozo") or not data.get("version")):
        reason = data.get("bozo_exception") or "no feed elements"
        raise FeedError(f"Not a readable feed: {reason}")
    return parsed


# feedparser's tolerant parser spends ~12 us of Python per tag and ~2 us per "&": a 5 MB body
# of "<a<a<a..." would cost it a minute. Real feeds carry a few thousand of each (the largest
# fixture: 3,800 tags, 2,000 references) and fastfeedparser reads nearly all of them; the
# fallback only gets documents within these counts (about half a second each at most).
FALLBACK_MAX_TAGS = 50_000
FALLBACK_MAX_REFERENCES = 200_000
RSS_TTL = re.compile(rb"<ttl>\s*(\d{1,6})\s*</ttl>", re.IGNORECASE)


def parse_feed(content: bytes) -> ParsedFeed:
    """Parse feed bytes; raise FeedError (or UnsafeFeed, FeedTooLarge) for anything that is
    not a feed. The cost is bounded: linear scans, at most FETCH_MAX_BYTES, and feedparser's
    slow tolerant parser only for documents within FALLBACK_MAX_TAGS and
    FALLBACK_MAX_REFERENCES."""
    content = prepare_bytes(content)
    parsed = None
    try:
        parsed = parse_with_fastfeedparser(content)
        if not (parsed.entries and any(e.title or e.link for e in parsed.entries)):
            parsed = None
    except Exception:  # noqa: BLE001 - any failure here means "try the tolerant parser"
        parsed = None
    if parsed is None:
        if content.count(b"<") > FALLBACK_MAX_TAGS or content.count(b"&") > FALLBACK_MAX_REFERENCES:
            raise FeedError(
                "Not a readable feed: fastfeedparser could not read it, and it has more tags or "
                "entity references than the tolerant parser is given."
            )
        try:
            parsed = parse_with_feedparser(content)
        except FeedError:
            raise
        except Exception as exc:  # noqa: BLE001 - a parser crash is a bad feed, never our crash
            raise FeedError(f"Not a readable feed: {type(exc).__name__}: {exc}") from exc
    if parsed.ttl_minutes is None:
        # fastfeedparser does not report RSS <ttl>; it sits in the channel, before the items.
        match = RSS_TTL.search(content[:HEAD_BYTES])
        parsed.ttl_minutes = _ttl(match.group(1).decode()) if match else None
    return parsed
