"""Fixtures for the fault tests: real processes that are always cleaned up, private Redis.

Every fault test needs PostgreSQL and Redis; on the default leg each one is collected and
skipped with `needs_services` (a per-test mark, so the list shows all six).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests import processes

needs_services = pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and settings.IS_POSTGRES),
    reason="fault tests need the real servers: set REDIS_URL and a postgres DATABASE_URL",
)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start workers (or any process) through `tests.processes`; every one is stopped at the end,
    even when the test fails halfway or killed some of them itself."""
    started: list[subprocess.Popen] = []

    def start_worker(name: str, **kwargs) -> subprocess.Popen:
        proc = processes.start_worker(tmp_path / f"{name}.log", **kwargs)
        started.append(proc)
        return proc

    start_worker.started = started  # type: ignore[attr-defined]
    yield start_worker
    for proc in started:
        processes.stop(proc)


@pytest.fixture
def track(tmp_path: Path) -> Iterator[Callable[[subprocess.Popen], subprocess.Popen]]:
    """Register any other process (gunicorn, redis-server) for cleanup."""
    started: list[subprocess.Popen] = []

    def add(proc: subprocess.Popen) -> subprocess.Popen:
        started.append(proc)
        return proc

    yield add
    for proc in started:
        processes.stop(proc)


class PrivateRedis:
    """A redis-server of our own on a free port, so restarting it disturbs nobody else."""

    def __init__(self, log: Path) -> None:
        self.port = processes.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--bind", "127.0.0.1", "--port", str(self.port),
                "--save", "", "--appendonly", "no", "--daemonize", "no",
            ],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        processes.wait_until(self.ping, timeout=10, message=f"redis on port {self.port} answering PING")

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def restart(self) -> None:
        """Like `redis-cli shutdown nosave` and a fresh start: every queued message is gone."""
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            processes.stop(self.proc, sig=9)
            self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed; the Redis fault test needs it")
    server = PrivateRedis(tmp_path / "redis.log")
    server.start()
    yield server
    server.stop()


def worker_log(tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def queue_name(kind: str) -> str:
    """A queue of our own per test, so a leftover message never reaches another run's worker."""
    return f"faults_{kind}_{os.getpid()}_{os.urandom(3).hex()}"
