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
