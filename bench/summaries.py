"""Summary throughput through a real Celery worker (`make bench-summaries`).

200 articles go through `summarize_article` on a threads-pool worker (concurrency 16,
prefetch 1) against the loopback fake Messages API with a fixed 1 s latency per call. It
prints articles/min and the ratio to the ideal (concurrency / latency), then the input
tokens per summary with and without prompt caching.

Needs PostgreSQL and Redis: DATABASE_URL (a postgres:// URL; the bench uses its own
database "<name>_bench", dropped and re-created each run) and REDIS_URL. Example:

  DATABASE_URL=postgres://postgres@127.0.0.1:5432/newsroom REDIS_URL=redis://127.0.0.1:6379/2 \\
      .venv/bin/python bench/summaries.py --articles 200 --concurrency 16 --latency 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# Replace bench/ on the path with the project root: bench/http.py would shadow the stdlib http.
sys.path[0] = str(ROOT)
QUEUE = "bench_summaries"

TEXT = (
    "The city council voted on Tuesday to build light-rail line number {n} across the river. "
    "The project will cost {n}.4 billion dollars and take seven years to finish. "
    "Supporters say the line will cut commuting times in half for forty thousand riders. "
    "Critics worry that construction will close the main bridge for two summers. "
    "The first public hearings on the route are planned for the spring."
)


def bench_database_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    name = parts.path.lstrip("/") + "_bench"
    return urlunsplit(parts._replace(path="/" + name)), name


def recreate_database(url: str, name: str) -> None:
    import psycopg

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()

    db_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not db_url.startswith("postgres") or not redis_url:
        print("bench/summaries.py needs DATABASE_URL (postgres://...) and REDIS_URL; see its docstring.")
        skipped = {"benchmark": "summaries", "metric": "skipped: needs DATABASE_URL (postgres) and REDIS_URL"}
        print("RESULT_JSON " + json.dumps([{**skipped, "value": None, "unit": ""}]))
        return 2

    from tests.fakes.anthropic_server import FakeAnthropic

    fake = FakeAnthropic(latency=args.latency).__enter__()
    bench_url, bench_name = bench_database_url(db_url)
    recreate_database(db_url, bench_name)
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "ANTHROPIC_BASE_URL": fake.url,
        "ANTHROPIC_API_KEY": "bench-key",
        "SUMMARY_BACKEND": "anthropic",
        "SUMMARY_BATCH_THRESHOLD": "0",  # measure single calls, not the Batches path
        "SUMMARY_DAILY_BUDGET_USD": "0",  # no cap
        "DJANGO_SETTINGS_MODULE": "newsroom.settings",
        "CACHE_KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "summaries") + "-bench",
    }
    os.environ.update(env)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)

    import django

    django.setup()
    from articles.models import Article, Source, Summary
    from articles.summarizers.backends import cost_of
    from articles.summarizers.base import Usage
    from articles.summarizers.tasks import summarize_article
    from newsroom.celery import app

    app.control.purge()
    source = Source.objects.create(name="Bench", feed_url="https://bench.example.com/feed.xml")
    articles = []
    for n in range(args.articles):
        article = Article(source=source, url=f"https://bench.example.com/{n}", title=f"Bench story {n}")
        article.set_text(TEXT.format(n=n))
        article.status = Article.Status.EXTRACTED
        articles.append(article)
    for article in articles:
        article.save()
    ids = list(Article.objects.filter(source=source).values_list("pk", flat=True))

    log = open("/tmp/bench-summaries-worker.log", "w")  # noqa: SIM115
    worker = subprocess.Popen(
        [python, "-m", "celery", "-A", "newsroom", "worker", "-P", "threads", "-c", str(args.concurrency),
         "-Q", QUEUE, "--prefetch-multiplier", "1", "-n", f"bench-summaries-{os.getpid()}@%h", "-l", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(
            destination=[f"bench-summaries-{os.getpid()}@{os.uname().nodename}"], timeout=1
        ):
            if worker.poll() is not None or time.monotonic() > deadline:
                print("The worker did not start; see /tmp/bench-summaries-worker.log")
                return 1
        # One warm-up call writes the prompt cache, as a long-running worker would have.
        summarize_article.apply_async(args=[ids[0]], queue=QUEUE).get(timeout=60)
        todo = ids[1:]
        started = time.monotonic()
        for article_id in todo:
            summarize_article.apply_async(args=[article_id], queue=QUEUE)
        done = 0
        while done < len(todo):
            time.sleep(0.1)
            done = Article.objects.filter(pk__in=todo, status=Article.Status.IN_REVIEW).count()
            if time.monotonic() - started > 600:
                print(f"Timed out with {done}/{len(todo)} done.")
                return 1
        elapsed = time.monotonic() - started
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        fake.__exit__()

    per_min = len(todo) / elapsed * 60
    ideal = args.concurrency / args.latency * 60
    summaries = list(Summary.objects.filter(article__source=source).exclude(article_id=ids[0]))
    n = len(summaries)
    uncached = sum(s.input_tokens for s in summaries) / n
    cache_read = sum(s.cache_read_tokens for s in summaries) / n
    cache_write = sum(s.cache_write_tokens for s in summaries) / n
    without = uncached + cache_read + cache_write
    cost_with = sum((s.cost_usd for s in summaries), Decimal(0)) / n
    cost_without = sum(
        (cost_of(Usage(s.input_tokens + s.cache_read_tokens + s.cache_write_tokens, s.output_tokens), "claude-haiku-4-5") for s in summaries),
        Decimal(0),
    ) / n  # fmt: skip
    print(f"summaries: {len(todo)} articles in {elapsed:.1f} s at concurrency {args.concurrency}, "
          f"{args.latency:g} s model latency")  # fmt: skip
    print(
        f"throughput: {per_min:.0f} articles/min; ideal {ideal:.0f}/min; ratio {per_min / ideal:.2f} (target >= 0.80)"
    )
    print(f"input tokens per summary without caching: {without:.0f}")
    print(
        f"input tokens per summary with caching: {uncached:.0f} uncached + {cache_read:.0f} read from cache"
        f" (+{cache_write:.0f} written); cache_read_input_tokens > 0 from the 2nd call: {cache_read > 0}"
    )
    print(f"cost per summary: ${cost_with:.5f} with caching, ${cost_without:.5f} without")
    row = {"benchmark": "summaries", "ceiling": None, "ratio": None, "target": ""}
    rows = [
        {**row, "metric": f"articles/min, concurrency {args.concurrency}, {args.latency:g} s latency",
         "value": round(per_min, 1), "unit": "articles/min", "ceiling": ideal,
         "ratio": round(per_min / ideal, 3), "target": ">= 0.8 of ideal"},
        {**row, "metric": "input tokens per summary, no caching", "value": round(without), "unit": "tokens"},
        {**row, "metric": "uncached input tokens per summary, with caching", "value": round(uncached),
         "unit": "tokens", "target": "cache_read > 0 from 2nd call"},
        {**row, "metric": "cache-read tokens per summary", "value": round(cache_read), "unit": "tokens"},
    ]  # fmt: skip
    print("RESULT_JSON " + json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
