"""The Discussion section of an article page: one rendering shared by every reader, plus theirs.

Almost all of a discussion is the same for everyone: the comments, their authors, the heading.
What differs per reader is small: the comment form with its CSRF token (or the log-in link),
edit and delete links on their own comments, reply and flag buttons for readers who may post,
"Flagged" where they flagged, and moderators' links. So the thread is rendered once per comment
generation without any reader (articles/reader/fragments.py stores it with the article page's
fragment), with a slot wherever a reader's part goes, and each request fills the slots for its
reader. Filling costs string joins, not template renders (a template render of even the
smallest part costs more than the rest of the page): the form, the log-in link and the reply
form are rendered with the thread, and the controls under a comment come in a few shapes, each
rendered once per process (`_controls`) with stand-ins for the comment's id and the token.

Slots are found by splitting the rendered thread on a marker drawn at random as it is rendered.
Comment text, names and summaries were written before the marker existed, so they cannot
contain it; the reader's CSRF token goes only where the marker, or the stand-in in our own
controls markup, says.

A reader with a comment held for moderation sees it (marked as waiting) where nobody else does,
so for them the discussion is rendered in full (`discussion_context`), as for a reader who
cannot post (their notice names the reason) or who came by a claim's "comment" link (the form
opens with that claim chosen).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, OuterRef
from django.template import loader
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from .models import Comment, CommentFlag
from .services import claim_text, comment_permission_problem, user_has_verified_email
from .thread import Node, build_thread, make_node

TOP, TAIL = "top", "tail"
# Set in a reader's session when they log in or confirm an address with a verified address.
VERIFIED_SESSION_KEY = "comments_verified_reader"
# Stand-ins in the controls markup (`_controls`), which holds nothing but our template: a
# comment id no comment has, and the CSRF token.
_PK_STAND_IN = 8_765_432_109_876_543_210
_TOKEN_STAND_IN = "csrf-token-stand-in"


def claim_choices(summary: Any) -> list[tuple[str, str]]:
    """The comment form's "About" choices: each key point and FAQ answer of the summary."""
    if summary is None:
        return []
    choices = []
    for i, point in enumerate(summary.key_points or []):
        choices.append((f"kp:{i}", point.get("heading") or f"Key point {i + 1}"))
    for i, row in enumerate(summary.faq or []):
        choices.append((f"faq:{i}", f"FAQ: {row.get('question', '')}"[:80]))
    return choices


def _thread(
    article: Any, summary: Any, *, user: Any, may_post: bool
) -> tuple[list[Node], int, list[Comment]]:
    """The thread as `user` sees it, and every comment of the article: one query for the
    comments with their authors (and, for a reader who may post, which of them they flagged)."""
    comments = Comment.objects.filter(article=article).select_related("author")
    if may_post:
        comments = comments.annotate(
            flagged_by_me=Exists(CommentFlag.objects.filter(comment=OuterRef("pk"), user=user))
        )
    comments = list(comments)
    flagged_ids = {c.pk for c in comments if getattr(c, "flagged_by_me", False)}
    roots, shown = build_thread(comments, user=user, may_post=may_post, flagged_ids=flagged_ids)
    for node in roots:
        if node.comment.claim:
            node.claim_quote = claim_text(summary, node.comment.claim) or ""
    return roots, shown, comments


def may_moderate(user: Any) -> bool:
    # Moderating happens in the admin, which only staff may open; checking that first spares
    # every other reader the permission queries.
    return bool(getattr(user, "is_staff", False) and user.has_perm("comments.moderate_comment"))


def _form_context(*, article: Any, summary: Any, user: Any, may_post: bool, request: Any) -> dict:
    return {
        "article": article,
        "article_url": article.get_absolute_url(),
        "user": user,
        "may_post": may_post,
        "claim_choices": claim_choices(summary),
        "initial_claim": request.GET.get("claim", "") if (request is not None and may_post) else "",
        "post_url": reverse("comments:post", args=[article.pk]),
    }


def discussion_context(
    *,
    article: Any,
    summary: Any,
    user: Any,
    request: Any = None,
    csrf_token: Any = None,
    messages: Any = None,
) -> dict:
    """Everything comments/_discussion.html needs to render the discussion for `user` in full."""
    authenticated = bool(getattr(user, "is_authenticated", False))
    problem = comment_permission_problem(user) if authenticated else None
    return _full_context(
        article=article,
        summary=summary,
        user=user,
        request=request,
        csrf_token=csrf_token,
        messages=messages,
        problem=problem,
    )


def _full_context(
    *,
    article: Any,
    summary: Any,
    user: Any,
    request: Any,
    csrf_token: Any,
    messages: Any,
    problem: str | None,
) -> dict:
    authenticated = bool(getattr(user, "is_authenticated", False))
    may_post = authenticated and problem is None
    roots, shown, _comments = _thread(article, summary, user=user, may_post=may_post)
    return {
        **_form_context(article=article, summary=summary, user=user, may_post=may_post, request=request),
        "roots": roots,
        "count": shown,
        "authenticated": authenticated,
        "problem": problem,
        "can_moderate": may_moderate(user) if authenticated else False,
        # Only logged-in pages carry forms (and so CSRF tokens); anonymous pages stay cacheable.
        "csrf_token": csrf_token if authenticated else None,
        "request": request,
        "messages": messages if authenticated else None,
    }


class CommentSlot(NamedTuple):
    """A shown comment's place in the shared thread: what its controls depend on. It reads like
    a visible Comment to make_node(), so a reader's own comment is judged by the same rules.
    A tuple, not a dataclass: every logged-in article page unpickles one per comment, and a
    frozen dataclass took ~4 us each (its __setstate__ walks its fields), a tuple under 1."""

    pk: int
    author_id: int
    depth: int
    created_at: datetime
    accepts_replies: bool
    status: str = Comment.Status.VISIBLE.value  # the plain string: an enum member unpickles slowly
    is_deleted: bool = False


@dataclass(frozen=True, slots=True)
class SharedDiscussion:
    """A discussion as every reader shares it. The page is pieces[0], fill(keys[0]), pieces[1],
    … pieces[-1]; a key is TOP (messages and form), TAIL (the reply form's template and the
    script) or a comment's pk. The form and reply form are split where the token goes."""

    article_id: int
    pieces: tuple[str, ...]
    keys: tuple[str, ...]
    comments: dict[str, CommentSlot]
    # Authors of held comments: they see theirs, so their discussion is rendered in full.
    held_authors: frozenset[int]
    top_anonymous: str
    top_poster: tuple[str, ...]
    tail_poster: tuple[str, ...]


def build_shared_discussion(*, article: Any, summary: Any) -> SharedDiscussion:
    """Render the discussion once for everyone: no reader, no request, no token. One query."""
    nobody = AnonymousUser()
    roots, shown, comments = _thread(article, summary, user=nobody, may_post=False)
    marker = secrets.token_hex(16)
    thread = {"article": article, "roots": roots, "count": shown, "slot": marker}
    parts = loader.render_to_string("comments/_discussion.html", thread).split(marker)
    form = _form_context(article=article, summary=summary, user=nobody, may_post=True, request=None)
    poster = {**form, "authenticated": True, "csrf_token": marker}
    return SharedDiscussion(
        article_id=article.pk,
        pieces=tuple(parts[0::2]),
        keys=tuple(parts[1::2]),
        comments={str(node.comment.pk): _slot(node) for node in _walk(roots) if not node.placeholder},
        held_authors=frozenset(
            c.author_id for c in comments if c.status == Comment.Status.HELD and c.author_id is not None
        ),
        top_anonymous=loader.render_to_string(
            "comments/_discussion_top.html", {**form, "may_post": False, "authenticated": False}
        ),
        top_poster=tuple(loader.render_to_string("comments/_discussion_top.html", poster).split(marker)),
        tail_poster=tuple(loader.render_to_string("comments/_discussion_tail.html", poster).split(marker)),
    )


def _walk(nodes: list[Node]):
    for node in nodes:
        yield node
        yield from _walk(node.children)


def _slot(node: Node) -> CommentSlot:
    comment = node.comment
    return CommentSlot(
        pk=comment.pk,
        author_id=comment.author_id,
        depth=comment.depth,
        created_at=comment.created_at,
        accepts_replies=node.accepts_replies,
    )


@lru_cache(maxsize=512)
def _controls(language: str, shape: tuple[bool, ...], moderator: bool) -> str:
    """The controls under a comment of this shape (can_edit, mine, can_flag, flagged, can_reply),
    with stand-ins for its id and the token; rendered once per process and language."""
    can_edit, mine, can_flag, flagged, can_reply = shape
    node = Node(
        comment=SimpleNamespace(pk=_PK_STAND_IN),
        can_edit=can_edit,
        mine=mine,
        can_flag=can_flag,
        flagged=flagged,
        can_reply=can_reply,
    )
    context = {"node": node, "can_moderate": moderator, "csrf_token": _TOKEN_STAND_IN}
    return loader.render_to_string("comments/_comment_actions.html", context)


def _shape(node: Node) -> tuple[bool, ...]:
    return (node.can_edit, node.mine, node.can_flag, node.flagged, node.can_reply)


def _posting_problem(user: Any, request: Any) -> str | None:
    """comment_permission_problem() for showing the form, skipping the query for a verified
    address when the reader's session says they had one (`remember_verified_reader`): an address
    once verified stays so (allauth keeps a verified primary address), and every write checks
    again whatever the page showed."""
    session = getattr(request, "session", None)
    known = session is not None and session.get(VERIFIED_SESSION_KEY) == user.pk
    return comment_permission_problem(user, known_verified=known)


def remember_verified_reader(request: Any, user: Any) -> None:
    """At log-in and when an address is confirmed: note in the session that this reader has a
    verified address, so their article pages need not ask the database (comments/receivers.py)."""
    if getattr(request, "session", None) is not None and user_has_verified_email(user):
        request.session[VERIFIED_SESSION_KEY] = user.pk


def _flagged_ids(shared: SharedDiscussion, *, user: Any) -> set[int]:
    """The comments on this article `user` flagged: one query, unless none is someone else's."""
    if not any(slot.author_id != user.pk for slot in shared.comments.values()):
        return set()
    flags = CommentFlag.objects.filter(user=user, comment__article_id=shared.article_id)
    return set(flags.values_list("comment_id", flat=True))


def shared_discussion_for(
    shared: SharedDiscussion,
    *,
    rows: Callable[[], tuple[Any, Any]],
    user: Any,
    request: Any,
    csrf_token: Any,
    messages: Any,
) -> SafeString:
    """The discussion as `user` sees it: from the shared rendering, or rendered in full for the
    readers it cannot serve (see the module's docstring). `rows()` gives the article and its
    summary (or None), called only for the full rendering: the reader's article view keeps them
    pickled until then."""
    authenticated = bool(getattr(user, "is_authenticated", False))
    if not authenticated:
        return mark_safe(  # noqa: S308 - autoescaped template output
            "".join(_fill(shared, top=shared.top_anonymous, tail="", controls=lambda slot: ""))
        )
    problem = _posting_problem(user, request)
    claim_link = request is not None and "claim" in request.GET
    if problem is not None or claim_link or user.pk in shared.held_authors:
        page = {"user": user, "request": request, "csrf_token": csrf_token, "messages": messages}
        article, summary = rows()
        context = _full_context(article=article, summary=summary, problem=problem, **page)
        return mark_safe(loader.render_to_string("comments/_discussion.html", context))  # noqa: S308
    moderator = may_moderate(user)
    flagged = _flagged_ids(shared, user=user)
    token = str(csrf_token)  # evaluated once: the same token goes into every form on the page
    language = get_language()
    # Someone else's comment that this reader did not flag: the same controls for every such one.
    others = _controls(language, (False, False, True, False, True), moderator).replace(_TOKEN_STAND_IN, token)
    others_deep = _controls(language, (False, False, True, False, False), moderator).replace(
        _TOKEN_STAND_IN, token
    )

    def controls(slot: CommentSlot) -> str:
        if slot.author_id == user.pk or slot.pk in flagged:
            node = make_node(slot, user=user, may_post=True, flagged_ids=flagged)
            shape = _controls(language, _shape(node), moderator).replace(_TOKEN_STAND_IN, token)
        else:
            shape = others if slot.accepts_replies else others_deep
        return shape.replace(str(_PK_STAND_IN), str(slot.pk))

    top = token.join(shared.top_poster)
    if messages:
        top = loader.render_to_string("comments/_discussion_messages.html", {"messages": messages}) + top
    return mark_safe("".join(_fill(shared, top=top, tail=token.join(shared.tail_poster), controls=controls)))  # noqa: S308


def _fill(shared: SharedDiscussion, *, top: str, tail: str, controls) -> list[str]:
    filled = []
    for piece, key in zip(shared.pieces, shared.keys, strict=False):
        filled.append(piece)
        filled.append(top if key == TOP else tail if key == TAIL else controls(shared.comments[key]))
    filled.append(shared.pieces[-1])
    return filled
