"""HTTP benchmark of the reader site: gunicorn (2 workers) on loopback, PostgreSQL + Redis.

    DATABASE_URL=postgres://... REDIS_URL=redis://.../N python bench/http.py

Seeds a few hundred published articles and a logged-in reader (a session whose cookie the
load generator sends, as a browser would), starts gunicorn twice — with the anonymous page
cache on, then with PAGE_CACHE_SECONDS=0 (fragments and cards stay cached: a "cold" page) —
and loads each URL from a separate process: `wrk` (Debian package) when installed, else an
async httpx client. Prints req/s, p50/p99 latency and the ratio to the bare Django view
(/bench/ok, enabled by BENCH_VIEWS=1, through the full middleware stack): the ceiling. Rows:
bare; home and article anonymous from the page cache; home and article logged in (the page
shows the reader's name, the comment form and edit links on their own comments); article and
home cold; search with the page cache off (every query uncached). Then the bytes on the wire
per page for identity, gzip and br.

The JSON API's cached list and detail (issue #17) are loaded too; their rate limit is counted on
every request (a limit too high to refuse any) so its cost is in the figure.
Targets (issue #16) are printed beside each row. The last line is `RESULT_JSON [...]` for
bench/run_all.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path and this module would shadow the
# standard library's `http` package, which httpx (the fallback load generator) imports.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
DURATION = int(os.environ.get("BENCH_SECONDS", "4"))
# Rounds interleave the URLs and the median round is reported: on a shared machine a noisy
# neighbour then hurts every URL alike instead of skewing one ratio.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
ARTICLES = int(os.environ.get("BENCH_ARTICLES", "300"))

SEED = f"""
import django, os
django.setup()
from django.utils import timezone
from datetime import timedelta
from articles.models import Article, Source, Summary, Topic, KEY_POINT_HEADINGS
from comments.models import Comment
from accounts.models import User
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.middleware.csrf import _get_new_csrf_string
from comments.discussion import VERIFIED_SESSION_KEY
from importlib import import_module
if not Source.objects.filter(feed_url__startswith="https://bench.example/").exists():
    topics = [Topic.objects.get_or_create(slug=f"bench-{{n}}", defaults={{"name": f"Bench topic {{n}}"}})[0] for n in range(8)]
    sources = [Source.objects.create(name=f"Bench source {{n}}", feed_url=f"https://bench.example/{{n}}.xml") for n in range(10)]
    user, _ = User.objects.get_or_create(email="bench-reader@example.com", defaults={{"display_name": "Bench Reader"}})
    EmailAddress.objects.get_or_create(user=user, email=user.email, defaults={{"verified": True, "primary": True}})
    now = timezone.now()
    text = "The council voted on Tuesday to build a new light-rail line across the river. " * 40
    for n in range({ARTICLES}):
        a = Article(source=sources[n % 10], url=f"https://bench.example/story-{{n}}", title=f"Bench story {{n}} about the river rail line",
                    status="published", published_on_site_at=now - timedelta(minutes=n))
        a.set_text(text)
        a.save()
        a.topics.add(topics[n % 8], topics[(n + 3) % 8])
        Summary.objects.create(article=a, version=1, kind="ai", producer="claude-haiku-4-5", approved_at=now,
            key_takeaway=f"Takeaway {{n}}: the council approved a light-rail line across the river.",
            key_points=[{{"heading": h, "text": f"{{h}} for story {{n}}."}} for h in KEY_POINT_HEADINGS],
            faq=[{{"question": "How much will it cost?", "answer": "2.4 billion dollars."}}])
        Comment.objects.bulk_create([Comment(article=a, author=user, body=f"Comment {{k}}") for k in range(3)])
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would have by now in production
# A logged-in reader's session, as the login view leaves it; the benchmark sends its cookie.
user = User.objects.get(email="bench-reader@example.com")
session = import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session[VERIFIED_SESSION_KEY] = user.pk  # what the log-in receiver notes (comments/receivers.py)
session.create()
session.save()
slug = Article.objects.filter(url__startswith="https://bench.example/").order_by("-published_on_site_at").first().slug
print(slug, session.session_key, _get_new_csrf_string())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "gunicorn", "newsroom.wsgi",
        "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning", "--access-logfile", "-" if os.environ.get("BENCH_ACCESS_LOG") else "/dev/null",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    wait_until_up(port)
    return proc


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def load_wrk(url: str, headers: dict[str, str]) -> dict[str, float]:
    header_args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{DURATION}s", "--latency", *header_args, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "errors": int(errors.group(1)) if errors else 0}


def load_httpx(url: str, headers: dict[str, str]) -> dict[str, float]:
    """Fallback load generator; run in this (separate) process, not in the server's."""
    import httpx

    latencies: list[float] = []
    errors = 0

    async def worker(client: httpx.AsyncClient, until: float) -> None:
        nonlocal errors
        while time.monotonic() < until:
            start = time.perf_counter()
            response = await client.get(url, headers=headers)
            latencies.append((time.perf_counter() - start) * 1000)
            errors += response.status_code >= 400

    async def main() -> float:
        limits = httpx.Limits(max_connections=CONNECTIONS)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:
            start = time.monotonic()
            await asyncio.gather(*(worker(client, start + DURATION) for _ in range(CONNECTIONS)))
            return time.monotonic() - start

    elapsed = asyncio.run(main())
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "errors": errors,
    }


def curl_headers(headers: dict[str, str]) -> list[str]:
    return [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]


def wire_bytes(port: int, path: str, headers: dict[str, str]) -> dict[str, int]:
    """Body bytes on the wire for one page, per Accept-Encoding (raw: curl does not decode)."""
    sizes = {}
    headers = {name: value for name, value in headers.items() if name.lower() != "accept-encoding"}
    for coding in ("identity", "gzip", "br"):
        out = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", *curl_headers(headers), "-H", f"Accept-Encoding: {coding}", "-w",
             "%{size_download} %header{content-encoding}", f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        sent = out[1] if len(out) > 1 else "identity"
        sizes[coding] = int(out[0]) if sent == coding else -1  # -1: that encoding was not sent
    return sizes


def fresh_database(url: str, *, suffix: str) -> str:
    """A database of our own beside the given one, re-created each run: the other benchmarks'
    rows (or a half-finished earlier run) must not change what this one measures."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/") + suffix
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path="/" + name))


def main() -> int:
    if not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")):
        print("bench/http.py needs DATABASE_URL (PostgreSQL) and REDIS_URL; skipping.")
        print(
            "RESULT_JSON "
            + json.dumps([{"benchmark": "http", "metric": "skipped", "value": None, "unit": ""}])
        )
        return 0
    load = load_wrk if shutil.which("wrk") else load_httpx
    tool = "wrk" if load is load_wrk else "httpx (async, fallback)"
    env = {**os.environ, "BENCH_VIEWS": "1", "DJANGO_SETTINGS_MODULE": "newsroom.settings", "DEBUG": "0"}
    env["DATABASE_URL"] = fresh_database(env["DATABASE_URL"], suffix="_http")
    env.setdefault("CONN_MAX_AGE", "600")
    # Counted like production, never refused: wrk's connections all come from one address.
    env["API_RATE_LIMIT"] = "1000000000/m"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    slug, session_key, csrf = subprocess.run(
        [sys.executable, "-c", SEED], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.split()[-3:]
    # Every row is loaded as a browser asks for pages: with its Accept-Encoding (a browser always
    # sends one), so cached pages go out in the encoding stored for them and a logged-in page
    # is gzipped per request, as readers get them. The bytes per encoding are measured below.
    browser = {"Accept-Encoding": "gzip, deflate, br, zstd"}
    reader = {**browser, "Cookie": f"sessionid={session_key}; csrftoken={csrf}"}
    anonymous = browser
    article = f"/a/{slug}/"
    # (label, path, headers, page cache on?, target); each server loads its rows in turn.
    pages = [
        ("bare view (/bench/ok)", "/bench/ok", anonymous, True, ""),
        ("home, anonymous cached", "/", anonymous, True, ""),
        ("article, anonymous cached", article, anonymous, True, ">= 0.90x"),
        ("home, logged in", "/", reader, True, ">= 0.40x"),
        ("article, logged in", article, reader, True, ">= 0.40x"),
        ("home, cold", "/", anonymous, False, ""),
        ("article, cold", article, anonymous, False, ">= 0.20x"),
        ("search, uncached", "/search/?q=river+rail", anonymous, False, ">= 0.10x"),
        ("api list, anonymous cached", "/api/v1/articles", anonymous, True, ">= 0.80x"),
        ("api detail, anonymous cached", f"/api/v1/articles/{slug}", anonymous, True, ">= 0.80x"),
    ]
    wired = [
        ("home, anonymous", "/", anonymous),
        ("article, anonymous", article, anonymous),
        ("article, logged in", article, reader),
        ("search", "/search/?q=river+rail", anonymous),
    ]
    rounds: dict[str, list[dict[str, float]]] = {}
    wire: dict[str, dict[str, int]] = {}
    for cached, seconds in ((True, env.get("PAGE_CACHE_SECONDS", "300")), (False, "0")):
        port = free_port()
        server = start_gunicorn({**env, "PAGE_CACHE_SECONDS": seconds}, port)
        try:
            if cached:
                wire = {name: wire_bytes(port, path, headers) for name, path, headers in wired}
            for _ in range(ROUNDS):
                for label, path, headers, on, _target in pages:
                    if on != cached:
                        continue
                    url = f"http://127.0.0.1:{port}{path}"
                    # Warm the page cache and the fragments, as a live site's traffic would.
                    subprocess.run(
                        ["curl", "-s", "-o", "/dev/null", *curl_headers(headers), url], check=False
                    )
                    rounds.setdefault(label, []).append(load(url, headers))
        finally:
            stop(server)
    # The median round by req/s, with that round's latencies.
    results = {label: sorted(runs, key=lambda r: r["rps"])[len(runs) // 2] for label, runs in rounds.items()}
    targets = {label: target for label, _path, _headers, _on, target in pages}

    ceiling = results["bare view (/bench/ok)"]["rps"]
    print(
        f"\nreader site over HTTP: gunicorn {WORKERS} workers, {CONNECTIONS} connections, "
        f"median of {ROUNDS} rounds of {DURATION}s, {tool}, load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores"
    )
    print(f"{'page':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'vs bare':>10}{'errors':>8}  target")
    rows = []
    for label, r in results.items():
        ratio = r["rps"] / ceiling if ceiling else 0.0
        target = targets[label] + (", " if targets[label] else "") + "p99 < 50 ms"
        print(
            f"{label:<28}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}{ratio:>9.2f}x{r['errors']:>8}"
            f"  {target}"
        )
        rows.append(
            {
                "benchmark": "http",
                "metric": f"{label} req/s",
                "value": round(r["rps"], 1),
                "unit": f"req/s (p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms)",
                "ceiling": round(ceiling, 1),
                "ratio": round(ratio, 2),
                "target": target,
            }
        )
    print(f"\n{'bytes on the wire':<28}{'identity':>10}{'gzip':>10}{'br':>10}")
    for name, sizes in wire.items():
        print(f"{name:<28}{sizes['identity']:>10}{sizes['gzip']:>10}{sizes['br']:>10}")
        for coding in ("gzip", "br"):
            rows.append(
                {
                    "benchmark": "http",
                    "metric": f"{name} bytes on the wire ({coding})",
                    "value": sizes[coding],
                    "unit": f"bytes (identity {sizes['identity']}; -1: not sent in {coding})",
                }
            )
    print("RESULT_JSON " + json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
