"""{% discussion article %}: the Discussion section of an article page.

The whole thread costs a constant number of queries however long it is: one for the
comments with their authors (and, for a logged-in reader, which of them they flagged),
plus one for a logged-in reader's verified email. The tree is built in Python (comments/thread.py).
"""

from __future__ import annotations

from django import template
from django.db.models import Exists, OuterRef
from django.urls import reverse

from comments.models import Comment, CommentFlag
from comments.services import claim_text, comment_permission_problem
from comments.thread import build_thread

register = template.Library()


def _claim_choices(summary) -> list[tuple[str, str]]:
    if summary is None:
        return []
    choices = []
    for i, point in enumerate(summary.key_points or []):
        choices.append((f"kp:{i}", point.get("heading") or f"Key point {i + 1}"))
    for i, row in enumerate(summary.faq or []):
        choices.append((f"faq:{i}", f"FAQ: {row.get('question', '')}"[:80]))
    return choices


@register.inclusion_tag("comments/_discussion.html", takes_context=True)
def discussion(context: template.Context, article) -> dict:
    user = context.get("user")
    request = context.get("request")
    # The reader's article view passes the approved summary; fall back to loading it.
    summary = context.get("summary", None)
    if summary is None and "summary" not in context:
        summary = article.current_summary
    authenticated = bool(getattr(user, "is_authenticated", False))

    problem = comment_permission_problem(user) if authenticated else None
    may_post = authenticated and problem is None
    comments = Comment.objects.filter(article=article).select_related("author")
    if may_post:
        # Whether this reader flagged each comment rides along in the same query.
        comments = comments.annotate(
            flagged_by_me=Exists(CommentFlag.objects.filter(comment=OuterRef("pk"), user=user))
        )
    comments = list(comments)
    flagged_ids = {c.pk for c in comments if getattr(c, "flagged_by_me", False)}
    roots, shown = build_thread(comments, user=user, may_post=may_post, flagged_ids=flagged_ids)
    for node in roots:
        if node.comment.claim:
            node.claim_quote = claim_text(summary, node.comment.claim) or ""

    initial_claim = request.GET.get("claim", "") if (request is not None and may_post) else ""
    return {
        "article": article,
        "user": user,
        "roots": roots,
        "count": shown,
        "authenticated": authenticated,
        "may_post": may_post,
        "problem": problem,
        "claim_choices": _claim_choices(summary),
        "initial_claim": initial_claim,
        "post_url": reverse("comments:post", args=[article.pk]),
        # Only logged-in pages carry forms (and so CSRF tokens); anonymous pages stay cacheable.
        "csrf_token": context.get("csrf_token") if authenticated else None,
        "request": request,
        "messages": context.get("messages") if authenticated else None,
    }


@register.inclusion_tag("comments/_claim_link.html")
def claim_comment_link(claim: str) -> dict:
    """'Comment on this / report a mistake' beside a key point or FAQ answer.

    Usage in the article template: {% claim_comment_link "kp:0" %}. It links to the
    discussion form with that claim chosen; the same markup for every reader, so cacheable.
    """
    return {"claim": claim}
