"""Reader discussion under each published article."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MAX_DEPTH = 3  # threads go at most three levels deep


class Comment(models.Model):
    class Status(models.TextChoices):
        VISIBLE = "visible", _("Visible")
        HELD = "held", _("Held for moderation")
        REMOVED = "removed", _("Removed")

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


class CommentFlag(models.Model):
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="flags")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["comment", "user"], name="one_flag_per_reader")]

    def __str__(self) -> str:
        return f"{self.user} flagged {self.comment_id}"
