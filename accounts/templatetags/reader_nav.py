"""{% account_nav %}: the header's account links for the page's reader (accounts/nav.py)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from accounts import nav

register = template.Library()


@register.simple_tag(takes_context=True)
def account_nav(context: template.Context) -> SafeString:
    return nav.account_nav(context.get("user"), context.get("csrf_token"))
