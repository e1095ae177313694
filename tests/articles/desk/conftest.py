"""Desk fixtures: logging in as one of the named cast (tests/conftest.py)."""

from __future__ import annotations

import pytest

# The Messages API as a loopback server, for the decisions whose summaries follow.
from tests.articles.summarizers.conftest import fake_anthropic  # noqa: F401


@pytest.fixture
def login(client, request):
    """`login("editor")` returns the test client logged in as that member of the cast."""

    def as_(who: str):
        if who != "anonymous":
            client.force_login(request.getfixturevalue(who))
        return client

    return as_


@pytest.fixture
def tasks_run():
    """Every Celery task run in this process during the test (with eager_celery), as
    (task name, args): what a decision queued, seen as the worker sees it."""
    from celery.signals import task_prerun

    ran: list[tuple[str, tuple]] = []

    def record(sender=None, task=None, args=None, **kwargs):
        ran.append((task.name, tuple(args or ())))

    task_prerun.connect(record, weak=False)
    yield ran
    task_prerun.disconnect(record)
