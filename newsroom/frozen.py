"""{% frozen "partial.html" name=value … %}: a partial that is the same on every page, rendered
once per process and language, with a page's few values put in where they stand.

Most of base.html is the same bytes on every page (the head's links, the brand and search
form, the footer, the account links), yet rendering it cost more than the rest of a page served
from fragments (issue #16 measured ~0.5 ms of base.html's ~0.7 ms: every {% url %}, {% static %}
and {% translate %} is tens of microseconds). A frozen partial is rendered once with a stand-in
for each named value, split where the stand-ins are, and kept; a page joins the pieces with its
own values, escaped as the template would have escaped them.

A whole page can be frozen the same way: the article and listing pages
(templates/articles/article.html, home.html) extend base.html with nothing but values in their
blocks, so articles/reader/views.py calls `frozen()` with the page's fragments and the reader's
parts and sends the result, with no template render per request.

Rules for a frozen partial: it sees only its named values and SITE_NAME/SITE_URL, nothing of the
request; each named value is used as it is (a filter belongs in the tag's argument), and must
appear in the output, which the first rendering checks. `{% csrf_token %}` works when
csrf_token is one of the values. With DEBUG on, partials are rendered every time, so edits show
without a restart.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache

from django import template
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import loader
from django.urls import get_script_prefix
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

register = template.Library()


def _site() -> dict[str, str]:
    return {"SITE_NAME": settings.SITE_NAME, "SITE_URL": settings.SITE_URL}


def split_at_values(render: Callable[[dict[str, str]], str], names: Iterable[str]) -> tuple[tuple, tuple]:
    """Call `render` with a random stand-in for each named value: the text between the values,
    and the name of each value in the order they came. Text written before the stand-ins were
    drawn cannot contain them, so only the places `render` put them are found."""
    marker = secrets.token_hex(8)
    parts = render({name: f"{marker}{name}{marker}" for name in names}).split(marker)
    return tuple(parts[0::2]), tuple(parts[1::2])


def join_values(pieces: tuple[str, ...], order: tuple[str, ...], values: Mapping[str, object]) -> str:
    """The text split_at_values() split, with `values` put back (each escaped unless safe)."""
    out = [pieces[0]]
    for name, piece in zip(order, pieces[1:], strict=True):
        out.append(conditional_escape(values[name]))
        out.append(piece)
    return "".join(out)


@lru_cache(maxsize=128)
def _pieces(template_name: str, names: tuple[str, ...], language: str, script_prefix: str) -> tuple:
    """The partial's text between its values, and which value goes after each piece. The
    language and script prefix are part of the key: they change what the partial renders."""
    pieces, order = split_at_values(
        lambda stand_ins: loader.render_to_string(template_name, {**_site(), **stand_ins}), names
    )
    if set(order) != set(names):
        raise ImproperlyConfigured(
            f"{template_name}: every value of a frozen partial must appear as it is, unfiltered "
            f"(expected {sorted(names)}, found {sorted(set(order))})"
        )
    return pieces, order


@receiver(setting_changed)
def _forget_partials(**kwargs: object) -> None:
    """A changed setting (static storage, site name, URLs, in tests or a reload) may change
    what a partial renders: render each again on next use."""
    _pieces.cache_clear()


@register.simple_tag
def frozen(template_name: str, **values: object) -> SafeString:
    if settings.DEBUG:
        return mark_safe(loader.render_to_string(template_name, {**_site(), **values}))  # noqa: S308
    pieces, order = _pieces(template_name, tuple(sorted(values)), get_language(), get_script_prefix())
    return mark_safe(join_values(pieces, order, values))  # noqa: S308 - our template's output and escaped values
