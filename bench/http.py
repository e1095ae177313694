"""HTTP benchmark of the reader site: gunicorn (2 workers) on loopback, PostgreSQL + Redis.

    DATABASE_URL=postgres://... REDIS_URL=redis://.../N python bench/http.py

Seeds a few hundred published articles (once, idempotent), starts gunicorn twice — with the
anonymous page cache on, then with PAGE_CACHE_SECONDS=0 — and loads each URL from a separate
process: `wrk` (Debian package) when installed, else an async httpx client. Prints req/s,
p50/p99 latency and the ratio to the bare Django view (/bench/ok, enabled by BENCH_VIEWS=1,
through the full middleware stack): the ceiling.

Targets (issue #6): cached article >= 80% of the bare view's req/s, uncached >= 20%, cached
p99 < 50 ms at 32 connections. The JSON API's list and detail (issue #17) have the same cached
target; their rate limit is counted on every request (a limit too high to refuse any) so its
cost is in the figure. The last line is `RESULT_JSON [...]` for bench/run_all.py.
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
if not Source.objects.filter(feed_url__startswith="https://bench.example/").exists():
    topics = [Topic.objects.get_or_create(slug=f"bench-{{n}}", defaults={{"name": f"Bench topic {{n}}"}})[0] for n in range(8)]
    sources = [Source.objects.create(name=f"Bench source {{n}}", feed_url=f"https://bench.example/{{n}}.xml") for n in range(10)]
    user, _ = User.objects.get_or_create(email="bench-reader@example.com")
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
print(Article.objects.filter(url__startswith="https://bench.example/").order_by("-published_on_site_at").first().slug)
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


def load_wrk(url: str) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{DURATION}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "errors": int(errors.group(1)) if errors else 0}


def load_httpx(url: str) -> dict[str, float]:
    """Fallback load generator; run in this (separate) process, not in the server's."""
    import httpx

    latencies: list[float] = []
    errors = 0

    async def worker(client: httpx.AsyncClient, until: float) -> None:
        nonlocal errors
        while time.monotonic() < until:
            start = time.perf_counter()
            response = await client.get(url)
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


def wire_bytes(port: int, path: str) -> dict[str, int]:
    """Body bytes on the wire for one cached page, per Accept-Encoding (raw: curl does not decode)."""
    sizes = {}
    for coding in ("identity", "gzip", "br"):
        out = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-H", f"Accept-Encoding: {coding}", "-w",
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
    slug = subprocess.run(
        [sys.executable, "-c", SEED], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.split()[-1]

    paths = {
        "bare view (/bench/ok)": "/bench/ok",
        "home": "/",
        "article": f"/a/{slug}/",
        "search": "/search/?q=river+rail",
        "api list": "/api/v1/articles",
        "api detail": f"/api/v1/articles/{slug}",
    }
    rounds: dict[str, list[dict[str, float]]] = {}
    wire: dict[str, dict[str, int]] = {}
    for mode, seconds in (("cached", env.get("PAGE_CACHE_SECONDS", "300")), ("uncached", "0")):
        port = free_port()
        server = start_gunicorn({**env, "PAGE_CACHE_SECONDS": seconds}, port)
        try:
            if mode == "cached":
                wire = {name: wire_bytes(port, paths[name]) for name in ("home", "article")}
            for _ in range(ROUNDS):
                for name, path in paths.items():
                    url = f"http://127.0.0.1:{port}{path}"
                    subprocess.run(["curl", "-s", "-o", "/dev/null", url], check=False)  # warm the cache
                    label = name if name.startswith("bare") else f"{name} ({mode})"
                    rounds.setdefault(label, []).append(load(url))
        finally:
            stop(server)
    # The median round by req/s, with that round's latencies.
    results = {label: sorted(runs, key=lambda r: r["rps"])[len(runs) // 2] for label, runs in rounds.items()}

    ceiling = results["bare view (/bench/ok)"]["rps"]
    print(
        f"\nreader site over HTTP: gunicorn {WORKERS} workers, {CONNECTIONS} connections, "
        f"median of {ROUNDS} rounds of {DURATION}s, {tool}, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'page':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'vs bare':>10}{'errors':>8}")
    rows = []
    for label, r in results.items():
        ratio = r["rps"] / ceiling if ceiling else 0.0
        print(f"{label:<28}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}{ratio:>9.2f}x{r['errors']:>8}")
        target = {
            "article (cached)": ">= 0.80x, p99 < 50 ms",
            "article (uncached)": ">= 0.20x",
            "api list (cached)": ">= 0.80x",
            "api detail (cached)": ">= 0.80x",
        }.get(label, "")
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
        print(f"{name + ' (cached)':<28}{sizes['identity']:>10}{sizes['gzip']:>10}{sizes['br']:>10}")
        for coding in ("gzip", "br"):
            rows.append(
                {
                    "benchmark": "http",
                    "metric": f"{name} bytes on the wire ({coding})",
                    "value": sizes[coding],
                    "unit": f"bytes (identity {sizes['identity']})",
                }
            )
    cached = results["article (cached)"]
    uncached = results["article (uncached)"]
    print(
        f"\ntargets: cached article {cached['rps'] / ceiling:.2f}x (>= 0.80), "
        f"uncached {uncached['rps'] / ceiling:.2f}x (>= 0.20), cached p99 {cached['p99']:.1f} ms (< 50), "
        f"cached API list {results['api list (cached)']['rps'] / ceiling:.2f}x and detail "
        f"{results['api detail (cached)']['rps'] / ceiling:.2f}x (>= 0.80)"
    )
    print("RESULT_JSON " + json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
