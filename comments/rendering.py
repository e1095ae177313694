"""Comment bodies: a small Markdown subset rendered to HTML, then sanitised with nh3.

markdown-it runs with raw HTML off, so anything tag-like in a comment is shown as text;
nh3 then enforces the allow-list anyway, because the sanitiser (not the renderer) is
what we trust to keep scripts out.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {"p", "br", "em", "strong", "a", "code", "pre", "blockquote", "ul", "ol", "li"}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow ugc noopener"

# Bidirectional overrides and invisible characters let a comment disguise a link or
# reorder text on screen ("Trojan Source"); they have no place in a comment.
_INVISIBLE = re.compile("[\u0000\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_URL = re.compile(r"(?i)\b(?:https?://|www\.)")


class _CommentMarkdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:  # noqa: N802 - markdown-it's name
        # Only absolute web and mail links: a relative or scheme-less target has no use in
        # a comment and is the usual disguise for an encoded "javascript:".
        return url.strip().lower().startswith(("http://", "https://", "mailto:"))


_markdown = _CommentMarkdown("zero", {"breaks": True, "html": False}).enable(
    ["emphasis", "link", "backticks", "fence", "code", "blockquote", "list", "newline"]
)


def clean_body(body: str) -> str:
    """The body as stored: invisible and control characters removed, ends trimmed."""
    return _INVISIBLE.sub("", body).strip()


def render_body(body: str) -> str:
    """Safe HTML for a comment body."""
    html = _markdown.render(body)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel=LINK_REL,
    )


def count_links(body: str) -> int:
    """Links in a body: Markdown links plus bare addresses, whichever count is higher."""
    tokens = _markdown.parseInline(body) if body else []
    markdown_links = sum(
        1 for token in tokens for child in (token.children or []) if child.type == "link_open"
    )
    return max(markdown_links, len(_URL.findall(body)))
