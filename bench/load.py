"""Load test: gunicorn + PostgreSQL + Redis on loopback, anonymous readers and commenters at once.

    make load                       # 200 readers + 20 commenters for 60 s
    python bench/load.py --seconds 15 --readers 200 --writers 20   # the CI smoke

Pass criteria (exit 1 otherwise): zero 5xx, zero lost writes (every comment the script got a
success for is in the database, and no other), no request left unanswered within --timeout
seconds, p99 under --p99-budget-ms (300 ms; 0 reports the latency without gating on it, as CI
does: there the load generator shares two cores with the server and whatever else runs). Needs DATABASE_URL and REDIS_URL
(defaults: a `newsroom_load` database and Redis db 14 on this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import re
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Replace bench/ on the path with the project root: bench/http.py would shadow the stdlib http.
sys.path[0] = str(ROOT)
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/newsroom_load")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("CACHE_KEY_PREFIX", "newsroom-load")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsroom.settings")
# Twenty commenters share 127.0.0.1: lift the per-user/per-IP comment limits for the run only.
os.environ.setdefault("COMMENT_RATE_LIMITS_DISABLED", "1")
os.environ.setdefault("COMMENT_HOLD_NEW_ACCOUNTS", "0")

import django  # noqa: E402
import httpx  # noqa: E402

MARKER = f"load-{secrets.token_hex(4)}"
FORM_RE = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
COMMENT_ID_RE = re.compile(r'id="comment-(\d+)"')


def ensure_database() -> None:
    import psycopg

    name = django.conf.settings.DATABASES["default"]["NAME"]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def prepare(writers: int) -> tuple[list[str], list[str], list[str]]:
    """Migrate, seed, create verified commenters with ready sessions. Returns paths and cookies."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import User
    from articles.models import Article, Topic

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    # Start every run from the same discussion: earlier runs' comments would make pages heavier.
    from comments.models import Comment

    Comment.objects.filter(author__email__startswith="load-writer-").delete()
    articles = [a.get_absolute_url() for a in Article.objects.published()]
    topics = [t.get_absolute_url() for t in Topic.objects.all()]
    sessions = []
    for i in range(writers):
        email = f"load-writer-{i}@newsroom.test"
        user = User.objects.filter(email=email).first() or User.objects.create_user(
            email=email, password=secrets.token_urlsafe(12), display_name=f"Load writer {i}"
        )
        User.objects.filter(pk=user.pk).update(date_joined=timezone.now() - timezone.timedelta(days=30))
        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        sessions.append(store.session_key)
    return articles, topics, sessions


class Stats:
    def __init__(self, measure_from: float = 0.0) -> None:
        self.measure_from = measure_from
        self.latencies: list[float] = []
        self.by_kind: dict[str, list[float]] = {}
        self.status: dict[int, int] = {}
        self.errors = 0
        # Why each client error happened (exception class, or what a page lacked): a gate that
        # fails must say on what.
        self.error_reasons: dict[str, int] = {}
        self.keepalive_retries = 0
        self.comment_successes: list[str] = []
        self.comment_refusals = 0

    def error(self, reason: str) -> None:
        self.errors += 1
        self.error_reasons[reason] = self.error_reasons.get(reason, 0) + 1

    def add(self, status: int, seconds: float, kind: str) -> None:
        # Every status counts; latencies only after the ramp-up, when all users have connected
        # (like resetting locust's stats once its users are spawned).
        self.status[status] = self.status.get(status, 0) + 1
        if time.monotonic() >= self.measure_from:
            self.latencies.append(seconds)
            self.by_kind.setdefault(kind, []).append(seconds)


async def browser_get(client: httpx.AsyncClient, path: str, stats: Stats) -> httpx.Response:
    """GET as a browser does: a kept-alive connection the server closed just as the request
    went out (gunicorn drops idle ones after 2 s; readers think up to 2 s) is retried once on
    a new connection, as browsers retry an idempotent request (RFC 9112, 9.3.1). Counted.
    The close reaches the client as a disconnect with no response or, when the request's
    bytes arrived at the closed socket, as a reset (ReadError): the same race."""
    try:
        return await client.get(path)
    except (httpx.RemoteProtocolError, httpx.ReadError):
        stats.keepalive_retries += 1
        return await client.get(path)


async def reader(
    client: httpx.AsyncClient, paths: list[str], stop_at: float, stats: Stats, think: tuple[float, float]
) -> None:
    # Like locust's `between()`: a reader looks at a page for a moment before the next click.
    await asyncio.sleep(random.uniform(0, think[1]))
    while time.monotonic() < stop_at:
        path = random.choice(paths)
        started = time.perf_counter()
        try:
            response = await browser_get(client, path, stats)
            stats.add(response.status_code, time.perf_counter() - started, "anonymous GET")
        except httpx.HTTPError as exc:
            stats.error(f"anonymous GET: {exc.__class__.__name__}")
        await asyncio.sleep(random.uniform(*think))


async def writer(
    base: str, session_key: str, articles: list[str], stop_at: float, stats: Stats, n: int, timeout: float
) -> None:
    cookies = {"sessionid": session_key}
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=timeout) as client:
        i = 0
        while time.monotonic() < stop_at:
            i += 1
            path = random.choice(articles)
            started = time.perf_counter()
            try:
                page = await browser_get(client, path, stats)
                stats.add(page.status_code, time.perf_counter() - started, "logged-in GET")
                form = next((m for m in FORM_RE.finditer(page.text) if 'name="body"' in m.group(2)), None)
                token = CSRF_RE.search(form.group(2)) if form else None
                if not (form and token):
                    stats.error(
                        f"logged-in GET {page.status_code} without a comment form"
                        f" ({'signed in' if 'Log out' in page.text or 'Sign out' in page.text else 'signed out'})"
                        f" {'' if form else 'no form'}{'' if token else ' no token'}"
                    )
                    await asyncio.sleep(1)
                    continue
                data = {"csrfmiddlewaretoken": token.group(1)}
                # Every other post replies to a comment already on the page (threads up to 3 deep).
                existing = COMMENT_ID_RE.findall(page.text)
                if i % 2 == 0 and existing:
                    data["parent"] = random.choice(existing)
                    body = f"{MARKER} writer {n} reply {i}: a reply to an earlier remark."
                else:
                    body = f"{MARKER} writer {n} comment {i}: an on-topic remark about this story."
                data["body"] = body
                started = time.perf_counter()
                response = await client.post(form.group(1), data=data, headers={"Referer": base + path})
                stats.add(response.status_code, time.perf_counter() - started, "comment POST")
                if response.status_code in (201, 302, 303):  # refusals are 4xx pages
                    stats.comment_successes.append(body)
                else:
                    stats.comment_refusals += 1
            except httpx.HTTPError as exc:
                stats.error(f"logged-in GET or comment POST: {exc.__class__.__name__}")
            await asyncio.sleep(random.uniform(0.5, 1.5))


async def warm_up(base: str, paths: list[str], session_key: str, workers: int) -> None:
    """Visit every page a few times first, as a logged-in reader and anonymously, so every worker
    process has imported its code and compiled its templates before the clock starts."""
    async with (
        httpx.AsyncClient(base_url=base, timeout=30) as anonymous,
        httpx.AsyncClient(base_url=base, timeout=30, cookies={"sessionid": session_key}) as logged_in,
    ):
        for _ in range(workers):
            await asyncio.gather(*(client.get(p) for p in set(paths) for client in (anonymous, logged_in)))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def run_load(base: str, paths: list[str], articles: list[str], sessions: list[str], args) -> Stats:
    stats = Stats(measure_from=time.monotonic() + args.ramp_up)
    stop_at = time.monotonic() + args.ramp_up + args.seconds
    think = (args.think_min, args.think_max)
    limits = httpx.Limits(max_connections=args.readers, max_keepalive_connections=args.readers)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=args.timeout) as client:
        tasks = [
            asyncio.create_task(reader(client, paths, stop_at, stats, think)) for _ in range(args.readers)
        ]
        tasks += [
            asyncio.create_task(writer(base, key, articles, stop_at, stats, n, args.timeout))
            for n, key in enumerate(sessions)
        ]
        await asyncio.gather(*tasks)
    return stats


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--p99-budget-ms", type=float, default=300.0, help="0: report p99, do not gate")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds before a request counts as failed"
    )
    parser.add_argument("--ramp-up", type=float, default=3.0, help="seconds before latencies count")
    parser.add_argument("--think-min", type=float, default=0.5, help="seconds a reader waits between pages")
    parser.add_argument("--think-max", type=float, default=2.0)
    parser.add_argument("--gunicorn-workers", type=int, default=(os.cpu_count() or 2) * 2 + 1)
    # Threads let cheap cached hits be answered while another request renders a long thread.
    parser.add_argument("--gunicorn-threads", type=int, default=4)
    args = parser.parse_args()

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one log line per request would skew the client
    ensure_database()
    articles, topics, sessions = prepare(args.writers)
    paths = (
        ["/"] * 3 + articles + topics + ["/search/?q=model", "/search/?q=council", "/feed/", "/feed/atom/"]
    )

    from tests.processes import start_gunicorn, stop

    log = ROOT / "bench" / "results" / "load-gunicorn.log"
    log.parent.mkdir(exist_ok=True)
    proc, port = start_gunicorn(log, workers=args.gunicorn_workers, threads=args.gunicorn_threads)
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(warm_up(base, paths, sessions[0] if sessions else "", args.gunicorn_workers))

        stats = asyncio.run(run_load(base, paths, articles, sessions, args))

    finally:
        stop(proc)

    from comments.models import Comment

    stored = set(Comment.objects.filter(body__startswith=MARKER).values_list("body", flat=True))
    succeeded = set(stats.comment_successes)
    lost = succeeded - stored
    phantom = stored - succeeded
    total = sum(stats.status.values())
    server_errors = sum(n for code, n in stats.status.items() if code >= 500)
    p50, p95, p99 = (percentile(stats.latencies, p) * 1000 for p in (50, 95, 99))
    result = {
        "requests": total,
        "requests_per_second": len(stats.latencies) / args.seconds,  # measured window only
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "status": stats.status,
        "client_errors": stats.errors,
        "client_error_reasons": stats.error_reasons,
        "keepalive_retries": stats.keepalive_retries,
        "server_errors": server_errors,
        "comments_succeeded": len(succeeded),
        "comments_refused": stats.comment_refusals,
        "comments_stored": len(stored),
        "lost_writes": len(lost),
        "phantom_writes": len(phantom),
        "mean_ms": statistics.fmean(stats.latencies) * 1000 if stats.latencies else 0,
        "p99_ms_by_kind": {kind: percentile(v, 99) * 1000 for kind, v in stats.by_kind.items()},
        "requests_by_kind": {kind: len(v) for kind, v in stats.by_kind.items()},
    }
    print(json.dumps(result, indent=2))

    ok = (
        server_errors == 0
        and not lost
        and not phantom
        and (not args.p99_budget_ms or p99 < args.p99_budget_ms)
        and not stats.errors
        and succeeded
    )
    print("PASS" if ok else "FAIL")
    rows = [
        ("requests/s (measured window)", result["requests_per_second"], "req/s", None, ""),
        ("p50 latency", p50, "ms", None, ""),
        ("p95 latency", p95, "ms", None, ""),
        ("p99 latency", p99, "ms", None, "< 300 ms"),
        ("5xx responses", server_errors, "count", None, "0"),
        ("lost + phantom comment writes", len(lost) + len(phantom), "count", None, "0"),
        ("comments accepted and stored", len(stored), "count", None, ""),
    ]
    label = f"{args.readers} readers + {args.writers} commenters, {args.seconds} s"
    print(
        "RESULT_JSON "
        + json.dumps(
            [
                {
                    "benchmark": "load",
                    "metric": f"{m} ({label})",
                    "value": v,
                    "unit": u,
                    "ceiling": c,
                    "target": t,
                }
                for m, v, u, c, t in rows
            ]
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
