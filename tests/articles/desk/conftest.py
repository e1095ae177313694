"""Desk fixtures: logging in as one of the named cast (tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def login(client, request):
    """`login("editor")` returns the test client logged in as that member of the cast."""

    def as_(who: str):
        if who != "anonymous":
            client.force_login(request.getfixturevalue(who))
        return client

    return as_
