"""Run callables at the same moment on separate threads, each with its own database
connection, for the tests that prove a write path has exactly one winner on PostgreSQL."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

needs_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="races need two real connections to PostgreSQL (set DATABASE_URL)",
)


def race(*steps: Callable[[], Any], timeout: float = 60) -> list[Any]:
    """Start every step on its own thread, release them together, and return what each
    returned, or the exception it raised, in the order given."""
    barrier = threading.Barrier(len(steps))
    results: list[Any] = [None] * len(steps)

    def run(index: int, step: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout)
            results[index] = step()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, step)) for i, step in enumerate(steps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a racing step did not finish"
    return results
