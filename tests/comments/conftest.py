from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.factories import make_commenter, verify


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The real hasher costs ~0.3 s per user; these tests are about comments, not hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache_and_eager_tasks(eager_celery):
    """Rate-limit counters must not leak between tests; reply emails run in-process on both legs."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def commenter(reader):
    return verify(reader)


@pytest.fixture
def other_commenter(db):
    return make_commenter(email="other@example.com", display_name="Olive Other")
