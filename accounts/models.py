"""Readers, commenters and editors: one user model, logging in by email."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .names import claims_staff_role


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("email address"), unique=True)
    display_name = models.CharField(_("display name"), max_length=80, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    # A banned user keeps their account but can no longer post comments.
    is_banned = models.BooleanField(default=False)
    notify_replies = models.BooleanField(_("email me when someone replies"), default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.display_name or self.email

    @property
    def public_name(self) -> str:
        """The name shown beside comments: never the email address. A reader's name never
        claims a newsroom role (accounts/names.py), whether it was chosen before that rule or
        is the start of an address like editor@example.com."""
        for name in (self.display_name, self.email.split("@", 1)[0]):
            if name and (self.is_staff or not claims_staff_role(name)):
                return name
        return _("reader %(number)s") % {"number": self.pk}

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, user__is_active=True)

    def find(self, raw: str) -> ApiToken | None:
        """The active token whose secret is `raw`, with its user; one indexed lookup."""
        return self.active().filter(token_hash=ApiToken.hash(raw)).first()


class ApiToken(models.Model):
    """A reader's key to the JSON API's higher rate limit (docs/api.md). It reads the same
    public data as everyone: it only moves the caller from the per-address limit to the
    per-token one.

    The secret is shown once, when it is created, and only its SHA-256 is kept: tokens are 32
    random bytes, so a fast hash is as good as a slow one and costs nothing per request.
    Revoking keeps the row (the reader sees when it was revoked) and stops it at once.
    """

    PREFIX = "nr_"

    user = models.ForeignKey("User", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=80)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the secret, so a reader can tell their tokens apart.
    hint = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    # Written at most once per LAST_USED_RESOLUTION, not on every request.
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    LAST_USED_RESOLUTION = timedelta(hours=1)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def new_secret(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    def note_use(self, now: datetime | None = None) -> None:
        """Record that the token was used, at most once per LAST_USED_RESOLUTION: one UPDATE
        of that column alone, so a busy script costs no write per request."""
        now = now or timezone.now()
        if self.last_used_at is not None and now - self.last_used_at < self.LAST_USED_RESOLUTION:
            return
        ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
        self.last_used_at = now
