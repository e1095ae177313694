"""{% discussion article %}: the Discussion section of an article page rendered in full for the
page's reader (comments/discussion.py). The reader's article page shows the rendering every
reader shares instead (`shared_discussion_for`, called by articles/reader/views.py).

It costs a constant number of queries however long the thread is: one for the comments with
their authors (and, for a logged-in reader, which of them they flagged), plus one for a
logged-in reader's verified email.
"""

from __future__ import annotations

from django import template

from comments.discussion import discussion_context

register = template.Library()


def _page_values(context: template.Context) -> dict:
    return {
        "user": context.get("user"),
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "messages": context.get("messages"),
    }


@register.inclusion_tag("comments/_discussion.html", takes_context=True)
def discussion(context: template.Context, article) -> dict:
    """The discussion rendered in full for the page's reader."""
    # The reader's article view passes the approved summary; fall back to loading it.
    summary = context.get("summary", None)
    if summary is None and "summary" not in context:
        summary = article.current_summary
    return discussion_context(article=article, summary=summary, **_page_values(context))


@register.inclusion_tag("comments/_claim_link.html")
def claim_comment_link(claim: str) -> dict:
    """'Comment or report a mistake' beside a key point or FAQ answer.

    Usage in the article template: {% claim_comment_link "kp:0" %}. It links to the
    discussion form with that claim chosen; the same markup for every reader, so cacheable.
    """
    return {"claim": claim}
