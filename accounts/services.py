"""A reader's own data: export it, or delete the account (issue #7)."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from articles.models import AuditEntry
from comments.models import Comment, CommentFlag
from newsletter.models import Subscriber

from .models import ApiToken, User


def user_mark_email_verified(*, user: User) -> EmailAddress:
    """Record the user's address as verified and primary, as if they had clicked the link.

    Email verification is mandatory, so accounts made outside sign-up (createsuperuser,
    seed_demo, the admin) need this before they can log in through allauth. Idempotent.
    """
    address, _created = EmailAddress.objects.update_or_create(
        user=user, email__iexact=user.email, defaults={"email": user.email, "verified": True, "primary": True}
    )
    return address


def user_export(*, user: User) -> dict[str, Any]:
    """Everything we hold about `user`, and nothing about anyone else.

    Comments are exported with the article they were posted on; other people's replies
    are not included. Digest subscriptions are those `Subscriber.objects.of_user` finds
    (linked to the account or at one of its verified addresses), with their deliveries.
    """
    comments = Comment.objects.filter(author=user).select_related("article").order_by("created_at", "id")
    subscriptions = Subscriber.objects.of_user(user).prefetch_related("topics", "deliveries").order_by("pk")
    return {
        "profile": {
            "email": user.email,
            "display_name": user.display_name,
            "notify_replies": user.notify_replies,
            "date_joined": user.date_joined.isoformat(),
            "last_login": user.last_login.isoformat() if user.last_login else None,
            "is_banned": user.is_banned,
        },
        "email_addresses": [
            {"email": address.email, "verified": address.verified, "primary": address.primary}
            for address in EmailAddress.objects.filter(user=user).order_by("email")
        ],
        "social_accounts": [
            {"provider": account.provider, "uid": account.uid, "date_joined": account.date_joined.isoformat()}
            for account in user.socialaccount_set.all()
        ],
        "comments": [
            {
                "id": comment.pk,
                "article": comment.article.title,
                "article_url": comment.article.get_absolute_url(),
                "in_reply_to": comment.parent_id,
                "body": comment.body,
                "status": comment.status,
                "deleted": comment.is_deleted,
                "claim": comment.claim,
                "reports_wrong_claim": comment.reports_wrong_claim,
                "created_at": comment.created_at.isoformat(),
                "edited_at": comment.edited_at.isoformat() if comment.edited_at else None,
                "ip_address": comment.ip_address,
            }
            for comment in comments
        ],
        "flags": [
            {"comment_id": flag.comment_id, "created_at": flag.created_at.isoformat()}
            for flag in CommentFlag.objects.filter(user=user).order_by("created_at")
        ],
        "digest_subscriptions": [_subscription_export(subscriber) for subscriber in subscriptions],
        # Never the secret or its hash: what the profile page shows.
        "api_tokens": [
            {
                "name": token.name,
                "hint": token.hint,
                "created_at": token.created_at.isoformat(),
                "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
                "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
            }
            for token in user.api_tokens.order_by("created_at", "id")
        ],
    }


def _subscription_export(subscriber: Subscriber) -> dict[str, Any]:
    return {
        "email": subscriber.email,
        "status": subscriber.status,
        "status_reason": subscriber.status_reason,
        "channel": subscriber.channel,
        "slack_webhook_url": subscriber.slack_webhook_url,
        "line_user_id": subscriber.line_user_id,
        "topics": sorted(topic.name for topic in subscriber.topics.all()),
        "send_hour": subscriber.send_hour,
        "timezone": subscriber.timezone,
        "created_at": subscriber.created_at.isoformat(),
        "confirmed_at": subscriber.confirmed_at.isoformat() if subscriber.confirmed_at else None,
        "deliveries": [
            {
                "digest_date": delivery.digest_date.isoformat(),
                "channel": delivery.channel,
                "status": delivery.status,
                "sent_at": delivery.sent_at.isoformat() if delivery.sent_at else None,
            }
            for delivery in sorted(subscriber.deliveries.all(), key=lambda d: d.digest_date)
        ],
    }


def user_delete(*, user: User) -> None:
    """Delete the account and the personal data in it.

    The user's comments stay in their threads as "[deleted]" with no author, text or IP
    address, so replies keep their place. Their digest subscriptions (the ones the export
    lists) are deleted with their delivery history. Their own audit entries, such as "this
    looks wrong" reports, keep the fact but lose the actor and the words
    (`AuditEntry.objects.redact_personal_text`). Email addresses, social logins, sessions'
    user and flags go with the user row. The audit log keeps a `user.deleted` line with the
    user id only.
    """
    with transaction.atomic():
        # Before the user row goes: the verified addresses that find the subscriptions
        # are deleted with it.
        Subscriber.objects.of_user(user).delete()
        AuditEntry.objects.redact_personal_text(user)
        # One save per comment rather than update(), so the Comment save signal clears the
        # cached article pages that still show the name and text.
        for comment in Comment.objects.filter(author=user).select_for_update():
            comment.author, comment.is_deleted, comment.body, comment.body_html = None, True, "", ""
            comment.ip_address = None
            comment.save(update_fields=["author", "is_deleted", "body", "body_html", "ip_address"])
        AuditEntry.record("user.deleted", target=user)
        user.delete()


class TooManyTokens(Exception):
    """The reader already has API_TOKENS_PER_USER active tokens."""


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new API token for `user`: the row, and the secret, which is returned this once and
    never stored (only its SHA-256). Raises TooManyTokens past API_TOKENS_PER_USER active ones;
    the user row is locked so two requests at once cannot both pass that count."""
    secret = ApiToken.new_secret()
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        if ApiToken.objects.active().filter(user=user).count() >= settings.API_TOKENS_PER_USER:
            raise TooManyTokens
        token = ApiToken.objects.create(
            user=user,
            name=name.strip() or "API token",
            token_hash=ApiToken.hash(secret),
            hint=secret[: len(ApiToken.PREFIX) + 6],
        )
    return token, secret


def api_token_revoke(*, user: User, token_id: int) -> bool:
    """Revoke one of `user`'s own tokens: refused from the next request on. False when it is not
    theirs or was already revoked. Idempotent."""
    return bool(
        ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )
