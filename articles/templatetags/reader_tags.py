"""Template helpers for the reader site: JSON-LD data blocks and cache-safe times."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from articles.reader.cards import rendered_cards, rendered_story_cards
from articles.reader.cards import search_cards as stored_search_cards

register = template.Library()

# The same escapes as Django's json_script: "<", ">" and "&" can never close the element.
_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@register.filter
def json_ld(value: Any) -> SafeString:
    """A <script type="application/ld+json"> data block, escaped like json_script.

    A data block is not executed, so CSP `script-src 'self'` allows it without a nonce.
    """
    data = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False).translate(_JSON_SCRIPT_ESCAPES)
    return mark_safe(f'<script type="application/ld+json">{data}</script>')  # noqa: S308


@register.filter
def datetime_attr(value: datetime | date | None) -> str:
    """A moment for machines (`<time datetime>`, `<meta content>`): UTC ISO 8601, whole seconds.

    HTML allows at most three fraction digits in a `datetime` attribute and Python writes six,
    so the fraction is dropped rather than cut: `2026-03-03T10:00:29+00:00`. A date stays a date.
    """
    if value is None or value == "":
        return ""
    if not isinstance(value, datetime):
        return value.isoformat()
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


@register.simple_tag
def reltime(value: datetime | None, css_class: str = "") -> SafeString:
    """<time> with the exact date as text; static/js/reltime.js swaps in "3h ago".

    Cached pages are shared for minutes, so the server never renders a relative phrase:
    without JavaScript the reader sees the exact date, with it the phrase is computed
    in the reader's browser, at reading time.
    """
    if value is None:
        return mark_safe("")
    value = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" data-relative class="{}" title="{}">{}</time>',
        datetime_attr(value),
        ("reltime " + css_class).strip(),
        formats.date_format(value, "DATETIME_FORMAT"),
        formats.date_format(value, "j M Y, H:i T"),
    )


@register.simple_tag
def absdate(value: datetime | None) -> SafeString:
    """<time> with a plain date, for statements like "reviewed on 3 March 2026"."""
    if value is None:
        return mark_safe("")
    value = timezone.localtime(value)
    return format_html(
        '<time datetime="{}">{}</time>', datetime_attr(value), formats.date_format(value, "j F Y")
    )


@register.simple_tag
def cards(articles: Any, heading_level: int = 2, hide_topics: bool = False) -> list[SafeString]:
    """The articles' rendered `_card.html`s, mostly from the card cache (articles/reader/cards.py).

    Usage: {% cards page heading_level=3 as rendered %}{% for card in rendered %}{{ card }}...
    """
    return rendered_cards(articles, heading_level=heading_level, hide_topics=hide_topics)


@register.simple_tag
def search_cards(hits: Any, heading_level: int = 3) -> list[SafeString]:
    """Search results' `_card.html`s, stored cards with each hit's highlighted title and takeaway
    put in (articles/reader/cards.py). Usage as for `cards`."""
    return stored_search_cards(list(hits), heading_level=heading_level)


@register.simple_tag
def story_cards(cards: Any, heading_level: int = 2, hide_topics: bool = False) -> list[SafeString]:
    """The stories' rendered `_story_card.html`s (`StoryCard`s, articles/reader/stories.py),
    mostly from the card cache. Usage as for `cards`."""
    return rendered_story_cards(cards, heading_level=heading_level, hide_topics=hide_topics)
