"""{% newsletter_cta %}: the "Summaries like this, in your inbox every morning" block.

The newsletter work wires the subscribe form; until then it renders the call to action.
"""

from __future__ import annotations

from django import template

register = template.Library()


@register.inclusion_tag("newsletter/_cta.html")
def newsletter_cta(topic=None) -> dict:
    return {"topic": topic}
