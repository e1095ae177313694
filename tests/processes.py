"""Start and stop the real processes some tests need: Celery workers, gunicorn.

Each helper returns a `subprocess.Popen`; callers stop it with `stop()` (or `kill -9` it on
purpose in fault tests). Output goes to a log file under the pytest tmp dir for post-mortems.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

BIN = Path(sys.executable).parent


def service_env(**extra: str) -> dict[str, str]:
    """The environment of the test run, pointed at the test database pytest-django created."""
    env = dict(os.environ)
    db = settings.DATABASES["default"]
    if db["ENGINE"].startswith("django.db.backends.postgresql"):
        user = db.get("USER") or "postgres"
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or 5432
        env["DATABASE_URL"] = f"postgres://{user}@{host}:{port}/{db['NAME']}"
    env.update(extra)
    env.setdefault("DJANGO_SETTINGS_MODULE", "newsroom.settings")
    return env


def start_worker(
    log: Path, *, queues: str, pool: str = "threads", concurrency: int = 4, **env: str
) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "newsroom",
            "worker",
            "-Q",
            queues,
            "-P",
            pool,
            "-c",
            str(concurrency),
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
            "-l",
            "info",
        ],
        cwd=settings.BASE_DIR,
        env=service_env(**env),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on port {port} within {timeout}s")


def start_gunicorn(
    log: Path, *, workers: int = 2, threads: int = 1, **env: str
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "newsroom.wsgi",
            "-w",
            str(workers),
            "--threads",
            str(threads),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=settings.BASE_DIR,
        env=service_env(**env),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port(port)
    return proc, port


def stop(proc: subprocess.Popen, *, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Stop a process group started by the helpers above; SIGKILL if it will not go."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


def wait_until(
    predicate, *, timeout: float = 30.0, interval: float = 0.2, message: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"{message} not reached within {timeout}s")


def close_broken_connections() -> None:
    """Close this context's database connections that the server has dropped.

    Fault tests terminate backends; a connection left broken in this thread (or in the
    greenlet context Playwright's sync API runs tests in) must not fail the next query.
    Only for transactional tests: closing would end a test transaction.
    """
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.is_usable():
            conn.close()
