"""Helpers for the discussion tests: verified, established commenters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from accounts.models import User
from accounts.services import user_mark_email_verified
from tests import factories


def verify(user: User, *, age_days: int = 30) -> User:
    """Mark the user's email verified and the account `age_days` old (past the new-account hold)."""
    user_mark_email_verified(user=user)
    user.date_joined = timezone.now() - timedelta(days=age_days)
    user.save(update_fields=["date_joined"])
    return user


def make_commenter(*, age_days: int = 30, **extra: Any) -> User:
    return verify(factories.make_user(**extra), age_days=age_days)
