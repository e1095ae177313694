"""{% discussion article %}: the Discussion section of an article page.

The comments work replaces this with the real thread; until then it renders the empty state.
"""

from __future__ import annotations

from django import template

register = template.Library()


@register.inclusion_tag("comments/_discussion.html", takes_context=True)
def discussion(context: template.Context, article) -> dict:
    return {"article": article, "user": context.get("user"), "comments": []}
