"""Shared fixtures: the named cast for permissions, and ready-made articles."""

from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture
def editor(db):
    return factories.make_user(
        email="editor@example.com", group="Editors", staff=True, display_name="Erin Editor"
    )


@pytest.fixture
def moderator(db):
    return factories.make_user(email="moderator@example.com", group="Moderators", staff=True)


@pytest.fixture
def other_staff(db):
    return factories.make_user(email="staff@example.com", staff=True)


@pytest.fixture
def reader(db):
    return factories.make_user(email="reader@example.com", display_name="Riley Reader")


@pytest.fixture
def published_article(db):
    return factories.make_published_article()


@pytest.fixture(autouse=True)
def _clean_page_cache():
    """Empty the cache around every test: a page cached by an earlier test (articles/pagecache.py)
    would describe rows that were rolled back, and on_commit invalidation never fires inside
    a test's transaction. Use django_capture_on_commit_callbacks(execute=True) to test it."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
