"""Posting, editing, deleting, flagging and moderating comments (issue #7).

Every rule lives here so the form POST, the JavaScript POST and the admin share it.
Services raise CommentRefused with a reader-facing message; views turn it into a
form error with the carried HTTP status. Every status change (and every write that depends
on the status) goes through Comment.transition_to, a compare-and-set; flag counts move with
F(). Services queue nothing: they say what happened and the views and the admin queue the
reply notification (comments/tasks.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from articles.models import Article, AuditEntry, Summary

from .models import MAX_DEPTH, Comment, CommentFlag, StaleComment
from .ratelimit import limit_reached
from .rendering import clean_body, count_links, render_body

MAX_BODY_LENGTH = 5000
# Why a comment waits for a moderator (Comment.status_reason while held).
HOLD_NEW_ACCOUNT = "new account"
HOLD_MANY_LINKS = "many links"
HOLD_EDITED_LINKS = "many links added in an edit"
HOLD_FLAGGED = "flagged by readers"
HELD_ON_ARRIVAL = {HOLD_NEW_ACCOUNT, HOLD_MANY_LINKS}  # never public yet, so no reply email went out
DUPLICATE_LOOKBACK = 200  # earlier comments compared word by word; exact copies are checked for all time
_CLAIM = re.compile(r"^(kp|faq):(\d{1,2})$")


class CommentRefused(Exception):
    """A comment action the rules do not allow; str(error) is safe to show the reader."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def user_has_verified_email(user: Any) -> bool:
    return EmailAddress.objects.filter(user=user, verified=True).exists()


def comment_permission_problem(user: Any, *, known_verified: bool = False) -> str | None:
    """Why `user` may not post, flag or reply right now; None when they may.

    `known_verified` skips the query for a verified address: for pages that only decide whether
    to show the form and remember an earlier answer (comments/discussion.py); every write asks.
    """
    if not getattr(user, "is_authenticated", False):
        return _("Log in to join the discussion.")
    if user.is_banned:
        return _("Your account can no longer post comments.")
    if not known_verified and not user_has_verified_email(user):
        return _("Please verify your email address before joining the discussion.")
    return None


def claim_text(summary: Summary | None, claim: str) -> str | None:
    """The quoted claim for "kp:N" / "faq:N" in `summary`, or None if there is no such claim."""
    match = _CLAIM.match(claim or "")
    if not match or summary is None:
        return None
    kind, index = match.group(1), int(match.group(2))
    rows = summary.key_points if kind == "kp" else summary.faq
    if index >= len(rows or []):
        return None
    row = rows[index]
    if kind == "kp":
        return f"{row.get('heading', '')}: {row.get('text', '')}".strip(": ")
    return f"{row.get('question', '')} {row.get('answer', '')}".strip()


def _check_body(body: str) -> str:
    body = clean_body(body or "")
    if not body:
        raise CommentRefused(_("Please write something before posting."))
    if len(body) > MAX_BODY_LENGTH:
        raise CommentRefused(_("Comments can be at most %(max)d characters long.") % {"max": MAX_BODY_LENGTH})
    return body


def _must_hold(*, user: Any, body: str) -> str:
    """Why a new comment waits for a moderator, or "" when it can appear straight away."""
    age = timezone.now() - user.date_joined
    if settings.COMMENT_HOLD_NEW_ACCOUNTS and age < timedelta(hours=settings.COMMENT_HOLD_ACCOUNT_AGE_HOURS):
        return HOLD_NEW_ACCOUNT
    if count_links(body) > settings.COMMENT_HOLD_MAX_LINKS:
        return HOLD_MANY_LINKS
    return ""


def _rate_limited(*, user: Any, ip: str | None, consume: bool) -> bool:
    if settings.COMMENT_RATE_LIMITS_DISABLED:
        return False
    hit = limit_reached(
        scope="comment-user", ident=str(user.pk), spec=settings.COMMENT_RATE_LIMIT_USER, consume=consume
    )
    if ip:
        hit = (
            limit_reached(scope="comment-ip", ident=ip, spec=settings.COMMENT_RATE_LIMIT_IP, consume=consume)
            or hit
        )
    return hit


def _is_duplicate(*, user: Any, body: str) -> bool:
    """The same text (ignoring case) ever, or the same words with other spacing recently."""
    own = Comment.objects.filter(author=user, is_deleted=False)
    if own.filter(body__iexact=body).exists():
        return True
    normalised = " ".join(body.split()).casefold()
    recent = own.order_by("-created_at").values_list("body", flat=True)[:DUPLICATE_LOOKBACK]
    return any(" ".join(earlier.split()).casefold() == normalised for earlier in recent)


def comment_post(
    *,
    user: Any,
    article: Article,
    body: str,
    parent: Comment | None = None,
    claim: str = "",
    reports_wrong_claim: bool = False,
    ip: str | None = None,
) -> Comment:
    """Post a comment or a reply, or raise CommentRefused.

    Rules, in order: a verified, unbanned user; a published article; a reply only to a
    visible comment on the same article, at most MAX_DEPTH levels deep; a non-empty body
    of at most 5,000 characters, not a copy of one of the user's earlier comments; the
    per-user and per-IP rate limits. New accounts and link-heavy comments are held for
    moderation. A "this looks wrong" report flags the article for the editors and is
    written to the audit log with the quoted claim. A reply that is public at once
    (`comment.is_public_reply`) is for the caller to notify its parent's author about.
    """
    problem = comment_permission_problem(user)
    if problem:
        raise CommentRefused(problem, status=403)
    if not Article.objects.published().filter(pk=article.pk).exists():
        raise CommentRefused(_("This article is not open for discussion."), status=404)
    if parent is not None:
        if parent.article_id != article.pk:
            raise CommentRefused(_("You can only reply to a comment on the same article."))
        if parent.status != Comment.Status.VISIBLE or parent.is_deleted:
            raise CommentRefused(_("This comment can no longer be replied to."))
        if parent.depth + 1 >= MAX_DEPTH:
            raise CommentRefused(_("This thread is as deep as it goes; reply further up instead."))
        claim, reports_wrong_claim = "", False  # a claim belongs to the thread's first comment
    body = _check_body(body)

    quoted = None
    if claim:
        quoted = claim_text(article.current_summary, claim)
        if quoted is None:
            raise CommentRefused(_("That part of the summary does not exist."))
    elif reports_wrong_claim:
        raise CommentRefused(_("Choose which part of the summary looks wrong."))

    if _is_duplicate(user=user, body=body):
        raise CommentRefused(_("You have already posted this comment."))

    if _rate_limited(user=user, ip=ip, consume=False) or _rate_limited(user=user, ip=ip, consume=True):
        raise CommentRefused(
            _("You are commenting too quickly. Please wait a minute and try again."), status=429
        )

    hold_reason = _must_hold(user=user, body=body)
    with transaction.atomic():
        comment = Comment.objects.create(
            article=article,
            author=user,
            parent=parent,
            depth=parent.depth + 1 if parent else 0,
            body=body,
            body_html=render_body(body),
            status=Comment.Status.HELD if hold_reason else Comment.Status.VISIBLE,
            status_reason=hold_reason,
            claim=claim,
            reports_wrong_claim=reports_wrong_claim and bool(claim),
            ip_address=ip,
        )
        if comment.reports_wrong_claim:
            Article.objects.filter(pk=article.pk).update(needs_attention=True)
            article.needs_attention = True
            AuditEntry.record(
                "claim.reported",
                actor=user,
                article=article,
                target=comment,
                claim=claim,
                quoted_claim=quoted,
                comment=body,
            )
    return comment


def _own_comment(*, comment: Comment, user: Any) -> None:
    if not getattr(user, "is_authenticated", False) or comment.author_id != user.pk:
        raise CommentRefused(_("You can only change your own comments."), status=403)
    if comment.is_deleted or comment.status == Comment.Status.REMOVED:
        raise CommentRefused(_("This comment has been removed."), status=403)


def _changed_meanwhile(*, comment: Comment, user: Any) -> CommentRefused:
    """The refusal for an author whose write lost the compare-and-set: "removed" when a
    moderator removed it meanwhile, otherwise "changed, reload"."""
    comment.refresh_from_db()
    _own_comment(comment=comment, user=user)
    return CommentRefused(
        _("This comment changed while you were working on it. Reload the page and try again."),
        status=409,
    )


def comment_can_edit(*, comment: Comment, user: Any, now=None) -> bool:
    now = now or timezone.now()
    window = timedelta(seconds=settings.COMMENT_EDIT_WINDOW_SECONDS)
    return (
        getattr(user, "is_authenticated", False)
        and comment.author_id == user.pk
        and not comment.is_deleted
        and comment.status != Comment.Status.REMOVED
        and now - comment.created_at <= window
    )


def comment_edit(*, comment: Comment, user: Any, body: str) -> Comment:
    """Change the body of one's own comment within the edit window; it then shows "edited".

    A banned author cannot edit, and an edit that adds too many links is held again.
    """
    _own_comment(comment=comment, user=user)
    if user.is_banned:
        raise CommentRefused(_("Your account can no longer post comments."), status=403)
    if not comment_can_edit(comment=comment, user=user):
        raise CommentRefused(_("Comments can only be edited in the first 15 minutes."), status=403)
    body = _check_body(body)
    if body == comment.body:
        return comment
    status, reason = comment.status, None
    if count_links(body) > settings.COMMENT_HOLD_MAX_LINKS and comment.status == Comment.Status.VISIBLE:
        status, reason = Comment.Status.HELD, HOLD_EDITED_LINKS
    try:
        comment.transition_to(
            status, reason=reason, body=body, body_html=render_body(body), edited_at=timezone.now()
        )
    except StaleComment:
        raise _changed_meanwhile(comment=comment, user=user) from None
    return comment


def comment_delete(*, comment: Comment, user: Any) -> Comment:
    """Delete one's own comment. Its text goes; the row stays so replies keep their place."""
    _own_comment(comment=comment, user=user)
    try:
        comment.transition_to(comment.status, is_deleted=True, body="", body_html="", ip_address=None)
    except StaleComment:
        raise _changed_meanwhile(comment=comment, user=user) from None
    return comment


def comment_flag(*, comment: Comment, user: Any) -> bool:
    """Flag a comment for moderators, once per reader. Returns False if already flagged.

    Past COMMENT_FLAG_HIDE_THRESHOLD flags a visible comment is held until reviewed. The
    count moves with F() and the hold is decided by the database (a conditional UPDATE on
    the stored count), so flags arriving together are all counted and hold it once.
    """
    problem = comment_permission_problem(user)
    if problem:
        raise CommentRefused(problem, status=403)
    if comment.author_id == user.pk:
        raise CommentRefused(_("You cannot flag your own comment."))
    if comment.is_deleted or comment.status == Comment.Status.REMOVED:
        raise CommentRefused(_("This comment has been removed."))
    with transaction.atomic():
        _flag, created = CommentFlag.objects.get_or_create(comment=comment, user=user)
        if not created:
            return False
        Comment.objects.filter(pk=comment.pk).update(flag_count=F("flag_count") + 1)
        # The UPDATE above holds the row until commit: this read is the current version.
        comment.refresh_from_db()
        if comment.status == Comment.Status.VISIBLE:
            try:
                comment.transition_to(
                    Comment.Status.HELD,
                    reason=HOLD_FLAGGED,
                    when=Q(flag_count__gte=settings.COMMENT_FLAG_HIDE_THRESHOLD),
                )
            except StaleComment:
                pass  # fewer flags than the threshold: it stays visible
    return True


class ModerationAction:
    APPROVE = "approve"
    REMOVE = "remove"
    BAN = "ban"


@dataclass(frozen=True)
class Moderation:
    """What a moderation decision did. `notify_reply`: a reply held on arrival is public now
    and its parent's author has not been told yet; the caller queues notify_reply."""

    comment: Comment
    notify_reply: bool = False


def comment_moderate(*, comment: Comment, moderator: Any, action: str, reason: str = "") -> Moderation:
    """A moderator's decision on one comment, written to the audit log.

    approve: visible again, flags cleared; a reply held on arrival is now to be announced.
    remove: hidden with a reason (required).
    ban: the author can no longer post, and the comment is removed with the reason.

    The decision is about the comment as the moderator saw it: a compare-and-set against
    that version (and, for approve, the flag count seen), so when another moderator decided,
    the author edited or deleted it, or new flags came in meanwhile, nothing is written or
    audited and CommentRefused (409) asks to look again.
    """
    reason = reason.strip()
    if action not in (ModerationAction.APPROVE, ModerationAction.REMOVE, ModerationAction.BAN):
        raise ValueError(f"Unknown moderation action {action!r}.")
    if action in (ModerationAction.REMOVE, ModerationAction.BAN) and not reason:
        raise CommentRefused(_("Give a reason."))
    from_status, from_reason = comment.status, comment.status_reason
    approve = action == ModerationAction.APPROVE
    with transaction.atomic():
        try:
            if approve:
                comment.transition_to(
                    Comment.Status.VISIBLE, reason="", when=Q(flag_count=comment.flag_count), flag_count=0
                )
            else:
                comment.transition_to(Comment.Status.REMOVED, reason=reason)
        except StaleComment:
            raise CommentRefused(
                _("This comment changed after you opened it. Look at it again before deciding."),
                status=409,
            ) from None
        AuditEntry.record(
            f"comment.{'approved' if action == ModerationAction.APPROVE else 'removed'}",
            actor=moderator,
            article=comment.article,
            target=comment,
            from_status=from_status,
            to_status=comment.status,
            reason=reason,
        )
        if action == ModerationAction.BAN and comment.author is not None:
            author = comment.author
            author.is_banned = True
            author.save(update_fields=["is_banned"])
            AuditEntry.record(
                "comment.author_banned",
                actor=moderator,
                article=comment.article,
                target=comment,
                reason=reason,
                user_id=author.pk,
            )
    # A reply held on arrival sent no email then; it goes out now it is public.
    held_on_arrival = from_status == Comment.Status.HELD and from_reason in HELD_ON_ARRIVAL
    return Moderation(comment=comment, notify_reply=approve and held_on_arrival and bool(comment.parent_id))


def comment_notify_reply(*, comment: Comment) -> bool:
    """Email the parent's author about a visible reply, if they want that. True if sent."""
    from django.core.mail import send_mail
    from django.template.loader import render_to_string

    parent = comment.parent
    if parent is None or comment.status != Comment.Status.VISIBLE or comment.is_deleted:
        return False
    recipient = parent.author
    if recipient is None or not recipient.notify_replies or recipient.pk == comment.author_id:
        return False
    context = {
        "comment": comment,
        "recipient": recipient,
        "article": comment.article,
        "url": f"{settings.SITE_URL}{comment.article.get_absolute_url()}#comment-{comment.pk}",
        "profile_url": f"{settings.SITE_URL}/profile/",
        "SITE_NAME": settings.SITE_NAME,
    }
    subject = " ".join(render_to_string("emails/comment_reply_subject.txt", context).split())
    send_mail(
        subject,
        render_to_string("emails/comment_reply.txt", context),
        None,
        [recipient.email],
    )
    return True
