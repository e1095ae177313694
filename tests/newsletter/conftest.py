"""Newsletter fixtures: subscribers, digest-ready articles and settings for loopback fakes."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from newsletter.models import Subscriber
from tests import factories

_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _eager(eager_celery):
    """Tasks run in-process here even on the Redis leg: these tests check what a task does."""


@pytest.fixture(autouse=True)
def newsletter_settings(settings):
    settings.SITE_URL = "https://news.example.org"
    # Loopback fakes are on 127.0.0.1; the fetcher's private-address guard must allow them.
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    settings.LINE_CHANNEL_ACCESS_TOKEN = "test-channel-token"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    cache.clear()
    yield settings
    cache.clear()


def make_subscriber(**fields: Any) -> Subscriber:
    topics = fields.pop("topics", [])
    fields.setdefault("email", f"subscriber{next(_seq)}@example.com")
    fields.setdefault("status", Subscriber.Status.CONFIRMED)
    fields.setdefault("send_hour", 7)
    fields.setdefault("timezone", "UTC")
    if fields["status"] == Subscriber.Status.CONFIRMED:
        fields.setdefault("confirmed_at", timezone.now())
    subscriber = Subscriber.objects.create(**fields)
    subscriber.topics.set(topics)
    return subscriber


def publish(*, title: str, topics: list = (), ago: dt.timedelta = dt.timedelta(hours=1), **fields: Any):
    """A published article with an approved summary, put on the site `ago` before now."""
    article = factories.make_published_article(title=title, **fields)
    article.published_on_site_at = timezone.now() - ago
    article.save(update_fields=["published_on_site_at"])
    article.topics.set(topics)
    return article


@pytest.fixture
def todays_story(db):
    return publish(title="Council approves the light-rail line")
