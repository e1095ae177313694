"""Side concerns of logging in: remember in the session that the reader has a verified address,
so showing them the comment form costs no query (comments/discussion.py)."""

from __future__ import annotations

from typing import Any

from allauth.account.signals import email_confirmed
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .discussion import remember_verified_reader


@receiver(user_logged_in)
def reader_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    remember_verified_reader(request, user)


@receiver(email_confirmed)
def reader_confirmed_an_address(sender: Any, request: Any, email_address: Any, **kwargs: Any) -> None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.pk == email_address.user_id:
        remember_verified_reader(request, user)
