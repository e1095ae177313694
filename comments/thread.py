"""Turn an article's comments (one query) into the nested thread the page shows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from .models import MAX_DEPTH, Comment
from .services import comment_can_edit


@dataclass
class Node:
    comment: Comment
    children: list[Node] = field(default_factory=list)
    # Text shown instead of the body ("[deleted]", "[removed]"), or "" for the body itself.
    placeholder: str = ""
    pending: bool = False  # held for moderation: only its author sees it, marked as waiting
    mine: bool = False  # the reader wrote it: they may delete it
    can_edit: bool = False
    # Live and not too deep: it has a replies list (the same for every reader), even when empty.
    accepts_replies: bool = False
    can_reply: bool = False
    can_flag: bool = False
    flagged: bool = False
    claim_quote: str = ""

    @property
    def anchor(self) -> str:
        return f"comment-{self.comment.pk}"

    @property
    def claim_anchor(self) -> str:
        """The id of the claim on the article page: "kp:0" is at #kp-0, "faq:1" at #faq-1."""
        return self.comment.claim.replace(":", "-")


def make_node(
    comment: Comment,
    *,
    user: Any,
    may_post: bool,
    flagged_ids: set[int] = frozenset(),  # type: ignore[assignment]
    now=None,
) -> Node:
    mine = getattr(user, "is_authenticated", False) and comment.author_id == user.pk
    node = Node(comment=comment, mine=bool(mine))
    if comment.is_deleted or comment.author_id is None:
        node.placeholder = "[deleted]"
    elif comment.status == Comment.Status.REMOVED:
        node.placeholder = "[removed]"
    elif comment.status == Comment.Status.HELD:
        if mine:
            node.pending = True
        else:
            node.placeholder = "[hidden pending review]"
    live = not node.placeholder and comment.status == Comment.Status.VISIBLE
    node.can_edit = bool(
        mine and not node.placeholder and comment_can_edit(comment=comment, user=user, now=now)
    )
    node.accepts_replies = live and comment.depth + 1 < MAX_DEPTH
    node.can_reply = bool(may_post and node.accepts_replies)
    node.can_flag = bool(may_post and live and not mine)
    node.flagged = comment.pk in flagged_ids
    return node


def build_thread(
    comments: Iterable[Comment], *, user: Any, may_post: bool, flagged_ids: set[int]
) -> tuple[list[Node], int]:
    """Top-level nodes in posting order, and the number of comments shown with their text.

    Placeholders ("[deleted]", "[removed]", held comments of other people) appear only
    where they still have replies to hold in place; otherwise they are left out.
    """
    now = timezone.now()
    by_parent: dict[int | None, list[Node]] = defaultdict(list)
    for comment in comments:
        node = make_node(comment, user=user, may_post=may_post, flagged_ids=flagged_ids, now=now)
        by_parent[comment.parent_id].append(node)

    shown = 0

    def attach(node: Node) -> bool:
        nonlocal shown
        node.children = [child for child in by_parent.get(node.comment.pk, []) if attach(child)]
        if not node.placeholder:
            shown += 1
        return not node.placeholder or bool(node.children)

    roots = [node for node in by_parent.get(None, []) if attach(node)]
    return roots, shown
