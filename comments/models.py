"""Reader discussion under each published article."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from newsroom.guarded import compare_and_set

MAX_DEPTH = 3  # threads go at most three levels deep


# Sent after a guarded write to a comment (an UPDATE, so no post_save), with `comment`
# updated in memory. Receivers defer their work to transaction.on_commit.
comment_state_changed = Signal()


class StaleComment(Exception):
    """The comment changed in the database since it was read: a moderator decided, its author
    edited or deleted it, or readers' flags held it. Nothing was written; re-read it first."""


class Comment(models.Model):
    class Status(models.TextChoices):
        VISIBLE = "visible", _("Visible")
        HELD = "held", _("Held for moderation")
        REMOVED = "removed", _("Removed")

    # Which status may follow which. The same status again is a write guarded by it: approving
    # a visible but flagged comment, an author's edit or delete. Only a moderator's approval
    # brings a removed comment back.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.VISIBLE: frozenset({Status.VISIBLE, Status.HELD, Status.REMOVED}),
        Status.HELD: frozenset({Status.VISIBLE, Status.HELD, Status.REMOVED}),
        Status.REMOVED: frozenset({Status.VISIBLE, Status.REMOVED}),
    }

    article = models.ForeignKey("articles.Article", on_delete=models.CASCADE, related_name="comments")
    # Null once the author deleted their account: the comment stays as "[deleted]".
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="comments"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    depth = models.PositiveSmallIntegerField(default=0)
    body = models.TextField(max_length=5000)
    body_html = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.VISIBLE, db_index=True)
    status_reason = models.CharField(max_length=300, blank=True)
    # The author deleted it; kept as "[deleted]" so replies still make sense.
    is_deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    # A comment on one claim: "kp:0".."kp:2" for a key point, "faq:N" for an FAQ answer.
    claim = models.CharField(max_length=16, blank=True)
    reports_wrong_claim = models.BooleanField(default=False)
    flag_count = models.PositiveIntegerField(default=0)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["article", "status", "created_at"])]
        permissions = [("moderate_comment", "Can hold, remove and restore comments and ban authors")]

    def __str__(self) -> str:
        who = self.author or "[deleted]"
        return f"{who} on {self.article}: {self.body[:40]}"

    @property
    def is_public_reply(self) -> bool:
        """A visible reply: its parent's author may hear about it (comments/tasks.py)."""
        return self.parent_id is not None and self.status == self.Status.VISIBLE and not self.is_deleted

    def transition_to(
        self, status: str, *, reason: str | None = None, when: Q | None = None, **changes: Any
    ) -> None:
        """The one door for a comment's status, and for any write that depends on it: one
        compare-and-set in the database against the version of the comment read into this
        object (its status, whether it is deleted, when it was last edited):

        UPDATE … SET status, [status_reason,] <changes>
        WHERE pk = … AND status = <read> AND is_deleted = <read> AND edited_at = <read> [AND <when>]

        So a moderator decides about the text they saw: an edit, a deletion or another
        moderator's decision that landed first makes this write fail. `reason` None keeps the
        status reason; `when` adds a condition the database decides (e.g. enough flags).
        Counters in `changes` may be F() expressions. Raises ValueError for a move TRANSITIONS
        forbids and StaleComment when the row no longer matches; either way nothing is written
        and this object is unchanged. On success this object holds what was written.
        """
        if status not in self.TRANSITIONS.get(self.status, frozenset()):
            raise ValueError(f"A comment cannot go from {self.status!r} to {status!r}.")
        values: dict[str, Any] = {"status": status, **changes}
        if reason is not None:
            values["status_reason"] = reason[:300]
        rows = Comment.objects.filter(
            pk=self.pk, status=self.status, is_deleted=self.is_deleted, edited_at=self.edited_at
        )
        if when is not None:
            rows = rows.filter(when)
        if not compare_and_set(self, rows, values):
            raise StaleComment(f"Comment {self.pk} changed since it was read; nothing was written.")
        comment_state_changed.send(sender=Comment, comment=self)


class CommentFlag(models.Model):
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="flags")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["comment", "user"], name="one_flag_per_reader")]

    def __str__(self) -> str:
        return f"{self.user} flagged {self.comment_id}"
