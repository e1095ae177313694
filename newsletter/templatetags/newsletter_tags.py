"""{% newsletter_cta %}: the "Summaries like this, in your inbox every morning" block with the
subscribe form. Safe inside pages cached for every anonymous reader: it carries no CSRF token
and nothing personal. On the (never shared) profile page, `{% newsletter_cta profile=True %}`
prefills the logged-in reader's address."""

from __future__ import annotations

from django import template

from articles.models import Topic

register = template.Library()


@register.inclusion_tag("newsletter/_cta.html", takes_context=True)
def newsletter_cta(context: template.Context, topic: Topic | None = None, profile: bool = False) -> dict:
    email = ""
    if profile:
        # Only on request: a page cached for everyone must never carry someone's address.
        user = getattr(context.get("request"), "user", None)
        email = user.email if user is not None and user.is_authenticated else ""
    # One small query; the page around it is cached for anonymous readers anyway.
    topics = list(Topic.objects.only("name", "slug"))
    return {"topic": topic, "topics": topics, "email": email}
