"""OPML import and export of the source list."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from xml.etree import ElementTree

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from articles.models import Source, Topic, validate_http_url

from .parse import FeedError


@dataclass
class OpmlReport:
    added: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


@dataclass
class OpmlOutline:
    url: str
    title: str = ""
    site_url: str = ""
    category: str = ""


def _lenient_attr(tag: str, name: str) -> str:
    # Real OPML files carry raw & and unescaped quotes in attributes; take the value up to the
    # quote that is followed by another attribute or the end of the tag.
    match = re.search(rf'\b{name}\s*=\s*"(.*?)"(?=\s+[\w:]+\s*=|\s*$)', tag, re.IGNORECASE | re.DOTALL)
    if not match:
        match = re.search(rf"\b{name}\s*=\s*'(.*?)'(?=\s+[\w:]+\s*=|\s*$)", tag, re.IGNORECASE | re.DOTALL)
    return match.group(1).replace("&amp;", "&").strip() if match else ""


def opml_outlines(content: bytes) -> list[OpmlOutline]:
    """Feed outlines from OPML; strict XML first, then a lenient scan for broken files."""
    if re.search(rb"<!ENTITY", content[:65536]):
        raise FeedError("The OPML file declares XML entities; refused.")
    outlines: list[OpmlOutline] = []
    try:
        root = ElementTree.fromstring(content)
        body = root.find("body")

        def walk(node: ElementTree.Element, category: str) -> None:
            for child in node.findall("outline"):
                url = (child.get("xmlUrl") or child.get("xmlurl") or "").strip()
                label = child.get("title") or child.get("text") or ""
                if url:
                    outlines.append(
                        OpmlOutline(
                            url=url,
                            title=label.strip(),
                            site_url=(child.get("htmlUrl") or "").strip(),
                            category=(child.get("category") or category).strip(),
                        )
                    )
                walk(child, label if not url else category)

        walk(body if body is not None else root, "")
        return outlines
    except ElementTree.ParseError:
        pass
    text = content.decode("utf-8", errors="replace")
    category = ""
    # Raw "<p>" and quotes inside attribute values defeat any tag regex; split on "<outline"
    # instead and read each piece's attributes up to its closing "/>" or ">".
    for piece in re.split(r"<outline\b", text)[1:]:
        attrs = re.split(r"</outline|</body", piece, maxsplit=1)[0].strip()
        attrs = attrs.removesuffix("/>").removesuffix(">").strip()
        url = _lenient_attr(attrs, "xmlUrl")
        label = _lenient_attr(attrs, "title") or _lenient_attr(attrs, "text")
        if not url:
            category = label
            continue
        outlines.append(
            OpmlOutline(url=url, title=label, site_url=_lenient_attr(attrs, "htmlUrl"), category=category)
        )
    return outlines


def opml_import(*, content: bytes) -> OpmlReport:
    """Add every feed in the OPML that we do not have yet. Idempotent; never fetches, so a
    catalogue loads offline. Outlines whose category names an existing topic get that topic."""
    report = OpmlReport()
    outlines = opml_outlines(content)
    present = set(
        Source.objects.filter(feed_url__in=[o.url for o in outlines]).values_list("feed_url", flat=True)
    )
    topics = {t.slug: t for t in Topic.objects.all()}
    now = timezone.now()
    for outline in outlines:
        try:
            validate_http_url(outline.url)
            if len(outline.url) > 1000:
                raise ValidationError("too long")
        except ValidationError:
            report.invalid.append(outline.url)
            continue
        if outline.url in present:
            report.present.append(outline.url)
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
            topic = topics.get(slugify(outline.category)) if outline.category else None
            if topic is not None:
                source.topics.add(topic)
        present.add(outline.url)
        report.added.append(outline.url)
    return report


def opml_export(*, sources: Iterable[Source] | None = None) -> str:
    """OPML 2.0 of the sources, each with its topics in the `category` attribute."""
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
