"""Newsletter fixtures: a digest-ready story and settings for loopback fakes.

Subscribers and articles are built by tests/factories.py.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.factories import publish


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


@pytest.fixture
def todays_story(db):
    return publish(title="Council approves the light-rail line")
