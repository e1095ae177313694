"""OPML import and export of the source list.

One reader serves the admin upload, the import_opml command and opml_import: at most
OPML_MAX_BYTES, decoded like a feed, refused when it carries any DTD, then read as XML with
defusedxml (forbid_dtd) or, for the broken files real feed readers export, by a lenient
scan that is linear in the file's length.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import urlsplit
from xml.etree import ElementTree

import defusedxml.ElementTree
from defusedxml import DefusedXmlException
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from articles.models import Source, Topic, validate_http_url

from .parse import DTD_MARKUP, FeedError, UnsafeFeed, decode_document, utf8_document

OPML_MAX_BYTES = 5 * 1024 * 1024
# Lenient scan: an attribute starts at a name's first character (the look-behind), and a
# quoted value ends at the first matching quote followed by another attribute or the end of
# the tag. Each candidate quote's check stops at the next quote, so a value costs one pass.
ATTR_START = re.compile(r"""(?<![\w:.\-])([\w:.\-]+)\s*=\s*(["'])""")
VALUE_END = re.compile(r"""\s+[\w:.\-]+\s*=|\s*$""")
OUTLINE_START = re.compile(r"<outline\b", re.IGNORECASE)
OUTLINE_END = re.compile(r"</outline\b|</body\b", re.IGNORECASE)
OUTLINE_CLOSE = re.compile(r"</outline\b", re.IGNORECASE)


@dataclass
class OpmlReport:
    added: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    # Category name -> feeds that named it, for categories that match no topic (and were not
    # created); a present feed that gained a topic; slugs of topics created by the import.
    unknown_categories: dict[str, int] = field(default_factory=dict)
    tagged: list[str] = field(default_factory=list)
    created_topics: list[str] = field(default_factory=list)


@dataclass
class OpmlOutline:
    url: str
    title: str = ""
    site_url: str = ""
    categories: list[str] = field(default_factory=list)


def opml_read(file: BinaryIO) -> bytes:
    """The file's bytes, refused past OPML_MAX_BYTES without reading further."""
    content = file.read(OPML_MAX_BYTES + 1)
    if len(content) > OPML_MAX_BYTES:
        raise FeedError(f"The file is larger than {OPML_MAX_BYTES // (1024 * 1024)} MB.")
    return content


def category_names(category: str, folders: Iterable[str] = ()) -> list[str]:
    """The categories of one outline. OPML 2.0's `category` is a comma-separated list of
    slash-delimited paths ("/Tech/AI,science"); every part of every path is a category. An
    outline without it takes the names of the folders it sits in, outermost first."""
    if category.strip():
        parts = [part for path in category.split(",") for part in path.split("/")]
    else:
        parts = list(folders)
    return list(dict.fromkeys(" ".join(part.split()) for part in parts if part.strip()))


def _lenient_attrs(tag: str) -> dict[str, str]:
    """The attributes of one outline tag as broken files write them: raw "&", unescaped
    quotes and "<p>" inside values. Left to right, once: linear in the tag's length. A value
    with no closing quote takes the rest of the tag with it."""
    attrs: dict[str, str] = {}
    pos = 0
    while start := ATTR_START.search(tag, pos):
        name, quote = start.group(1).lower(), start.group(2)
        end = start.end()
        while (end := tag.find(quote, end)) >= 0 and not VALUE_END.match(tag, end + 1):
            end += 1
        if end < 0:
            break
        attrs.setdefault(name, html.unescape(tag[start.end() : end]).strip())
        pos = end + 1
    return attrs


def _lenient_outlines(text: str) -> list[OpmlOutline]:
    """Outlines from a file that is not well-formed XML. Raw "<p>" and quotes inside values
    defeat any tag pattern, so the text is cut at each "<outline" and every piece is read up
    to its first "</outline" or "</body"; the closing tags met keep track of the folders."""
    outlines: list[OpmlOutline] = []
    folders: list[str | None] = []  # None: an open outline that is a feed, not a folder
    starts = [m.start() for m in OUTLINE_START.finditer(text)] + [len(text)]
    for begin, after in zip(starts, starts[1:], strict=False):
        piece = text[begin + len("<outline") : after]
        close = OUTLINE_END.search(piece)
        tag = (piece[: close.start()] if close else piece).strip()
        self_closing = tag.endswith("/>")
        attrs = _lenient_attrs(tag.removesuffix("/>").removesuffix(">"))
        url = attrs.get("xmlurl", "")
        label = attrs.get("title") or attrs.get("text") or ""
        if url:
            outlines.append(
                OpmlOutline(
                    url=url,
                    title=label,
                    site_url=attrs.get("htmlurl", ""),
                    categories=category_names(attrs.get("category", ""), [f for f in folders if f]),
                )
            )
        if not self_closing:
            folders.append(None if url else label)
        for _ in range(min(len(OUTLINE_CLOSE.findall(piece)), len(folders))):
            folders.pop()
    return outlines


def _strict_outlines(root: ElementTree.Element) -> list[OpmlOutline]:
    outlines: list[OpmlOutline] = []

    def walk(node: ElementTree.Element, folders: list[str]) -> None:
        for child in node.findall("outline"):
            url = (child.get("xmlUrl") or child.get("xmlurl") or "").strip()
            label = (child.get("title") or child.get("text") or "").strip()
            if url:
                outlines.append(
                    OpmlOutline(
                        url=url,
                        title=label,
                        site_url=(child.get("htmlUrl") or "").strip(),
                        categories=category_names(child.get("category") or "", folders),
                    )
                )
            walk(child, folders if url or not label else [*folders, label])

    body = root.find("body")
    walk(body if body is not None else root, [])
    return outlines


def opml_outlines(content: bytes) -> list[OpmlOutline]:
    """Feed outlines from OPML: strict XML first, then a lenient scan for broken files.

    Refused with FeedError: a file over OPML_MAX_BYTES; with UnsafeFeed: any DTD (a DOCTYPE
    or an ENTITY, ATTLIST, ELEMENT or NOTATION declaration) anywhere in the file, in any
    encoding. OPML has no use for a DTD, and refusing it outright means no parser, strict or
    lenient, ever meets an entity to expand."""
    if len(content) > OPML_MAX_BYTES:
        raise FeedError(f"The file is larger than {OPML_MAX_BYTES // (1024 * 1024)} MB.")
    text, _ = decode_document(content)
    if DTD_MARKUP.search(text):
        raise UnsafeFeed("The OPML file carries a DTD (DOCTYPE or entity declarations); refused.")
    try:
        root = defusedxml.ElementTree.fromstring(utf8_document(text), forbid_dtd=True)
    except DefusedXmlException as exc:  # unreachable after the check above; kept as the backstop
        raise UnsafeFeed(f"The OPML file carries a DTD; refused ({type(exc).__name__}).") from exc
    except ElementTree.ParseError:
        return _lenient_outlines(text)
    return _strict_outlines(root)


class _TopicIndex:
    """Topics by slug and by name, for matching category names."""

    def __init__(self, topics: Iterable[Topic]) -> None:
        self.by_slug: dict[str, Topic] = {}
        self.by_name: dict[str, Topic] = {}
        for topic in topics:
            self.add(topic)

    def add(self, topic: Topic) -> None:
        self.by_slug[topic.slug] = topic
        self.by_name[topic.name.casefold()] = topic

    def find(self, name: str) -> Topic | None:
        """The topic a category names: by slug ("ai-models"), by name ("AI models"), or by
        the slug of the name ("Open Source" -> "open-source")."""
        return self.by_slug.get(name) or self.by_name.get(name.casefold()) or self.by_slug.get(slugify(name))


def opml_import(*, content: bytes, create_topics: bool = False) -> OpmlReport:
    """Add every feed in the OPML that we do not have yet. Idempotent; never fetches, so a
    catalogue loads offline.

    Each outline's categories (see category_names) file it under the topics they name, by slug
    or name; a feed already present keeps everything it has and only gains topics it lacks.
    A category that names no topic is reported in `unknown_categories` with the number of
    feeds that named it; with create_topics it becomes a new topic instead (unless it has no
    slug, e.g. a name in a non-Latin script, which stays unknown)."""
    report = OpmlReport()
    outlines = opml_outlines(content)
    existing = {
        source.feed_url: source
        for source in Source.objects.filter(feed_url__in=[o.url for o in outlines]).prefetch_related("topics")
    }
    index = _TopicIndex(Topic.objects.all())
    unknown: Counter[str] = Counter()
    now = timezone.now()
    for outline in outlines:
        try:
            validate_http_url(outline.url)
            if len(outline.url) > 1000:
                raise ValidationError("too long")
        except ValidationError:
            report.invalid.append(outline.url)
            continue
        topics = []
        for name in outline.categories:
            topic = index.find(name)
            if topic is None and create_topics and slugify(name):
                topic = _topic_create(name)
                index.add(topic)
                report.created_topics.append(topic.slug)
            if topic is None:
                unknown[name] += 1
            else:
                topics.append(topic)
        source = existing.get(outline.url)
        if source is not None:
            report.present.append(outline.url)
            has = set(source.topics.all())
            missing = [t for t in topics if t not in has]
            if missing:
                source.topics.add(*missing)
                report.tagged.append(outline.url)
            continue
        site_url = outline.site_url
        try:
            validate_http_url(site_url)
        except ValidationError:
            site_url = ""
        with transaction.atomic():
            source = Source.objects.create(
                name=(outline.title or urlsplit(outline.url).hostname or outline.url)[:200],
                feed_url=outline.url,
                site_url=site_url[:500],
                next_poll_at=now,
            )
            source.topics.add(*topics)
        existing[outline.url] = source
        report.added.append(outline.url)
    report.unknown_categories = dict(sorted(unknown.items()))
    return report


def _topic_create(name: str) -> Topic:
    """A topic for a category name, or the one a concurrent import just made."""
    name, slug = name[:80], slugify(name)[:80].strip("-")
    topic, _ = Topic.objects.get_or_create(slug=slug, defaults={"name": name})
    return topic


def opml_export(*, sources: Iterable[Source] | None = None) -> str:
    """OPML 2.0 of the sources, each with its topics' slugs in the `category` attribute."""
    if sources is None:
        sources = Source.objects.prefetch_related("topics").order_by("name")
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = f"{settings.SITE_NAME} sources"
    ElementTree.SubElement(head, "dateCreated").text = timezone.now().strftime("%a, %d %b %Y %H:%M:%S GMT")
    body = ElementTree.SubElement(root, "body")
    for source in sources:
        attrs = {"type": "rss", "text": source.name, "title": source.name, "xmlUrl": source.feed_url}
        if source.site_url:
            attrs["htmlUrl"] = source.site_url
        categories = ",".join(t.slug for t in source.topics.all())
        if categories:
            attrs["category"] = categories
        ElementTree.SubElement(body, "outline", attrs)
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"
