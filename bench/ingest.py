"""Ingestion benchmark: 200 loopback feeds x 50 entries, a full poll, parsers and extraction.

    python bench/ingest.py                      # SQLite
    DATABASE_URL=postgres://... python bench/ingest.py   # PostgreSQL (the target is measured there)

Runs in a throwaway test database (created and dropped here), serves the feeds from a
loopback HTTP server, and prints:
  * entries/s for parse + dedupe + store (bodies already fetched; extraction excluded),
    and for the whole poll including the loopback fetch and the FetchAttempt bookkeeping;
  * the parse-only rate of fastfeedparser and of feedparser on the same documents;
  * a re-poll of every feed answered with 304;
  * pages/s for article extraction (robots.txt, fetch, trafilatura, dedupe, save).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Replace bench/ on the path with the project root: bench/http.py would shadow the stdlib http.
sys.path[0] = str(ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsroom.settings")
os.environ.setdefault("FETCH_ALLOWED_PRIVATE_HOSTS", "127.0.0.1")
# Every feed lives on one loopback host; the politeness limit would measure only itself.
os.environ.setdefault("FETCH_PER_HOST_CONCURRENCY", "64")

import django  # noqa: E402

django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from articles.ingest import extraction, parse, polling  # noqa: E402
from articles.models import Article, Source  # noqa: E402
from tests.fakes.feed_server import FeedServer, Route, fixtures_dir  # noqa: E402

WORDS = (
    "model training inference benchmark dataset agent reasoning safety policy chip compute cloud "
    "startup research paper open source release evaluation latency token context memory"
).split()


def sentence(seed: int, n: int) -> str:
    return " ".join(WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(n)).capitalize() + "."


def make_feed(feed_no: int, entries: int) -> bytes:
    items = []
    for i in range(entries):
        n = feed_no * 1000 + i
        link = f"https://news{feed_no}.example.org/{2026}/11/story-{i}?utm_source=rss&utm_medium=feed"
        body = " ".join(sentence(n + k, 18) for k in range(12))
        items.append(
            f"<item><title>{sentence(n, 9)}</title><link>{link}</link>"
            f'<guid isPermaLink="false">feed{feed_no}-entry{i}</guid>'
            f"<pubDate>Tue, 24 Nov 2026 {i % 24:02d}:{i % 60:02d}:00 GMT</pubDate>"
            f"<author>desk@news{feed_no}.example.org (Reporter {i % 7})</author>"
            f"<description>{sentence(n, 40)}</description>"
            f"<content:encoded><![CDATA[<p>{body}</p><p>{body}</p>]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Bench feed {feed_no}</title><link>https://news{feed_no}.example.org/</link>"
        f"<description>Generated</description>{''.join(items)}</channel></rss>"
    ).encode()


def store_all(sources: list[Source], docs: list[bytes]) -> tuple[int, float, float]:
    """Parse and store every document, one transaction per feed as source_poll does."""
    started = time.perf_counter()
    stored, parse_seconds, now = 0, 0.0, timezone.now()
    for source, doc in zip(sources, docs, strict=True):
        t = time.perf_counter()
        feed = parse.parse_feed(doc)
        parse_seconds += time.perf_counter() - t
        with transaction.atomic():
            ids, _ = polling.entries_store(source=source, feed=feed, base_url=source.feed_url, now=now)
        stored += len(ids)
    return stored, time.perf_counter() - started, parse_seconds


def _store_slice(sources: list[Source], docs: list[bytes], queue: multiprocessing.Queue) -> None:
    connections.close_all()  # never share the parent's socket with a forked child
    stored, _, _ = store_all(sources, docs)
    connections.close_all()
    queue.put(stored)


def store_parallel(sources: list[Source], docs: list[bytes], *, workers: int) -> tuple[int, float]:
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    started = time.perf_counter()
    procs = [
        ctx.Process(target=_store_slice, args=(sources[i::workers], docs[i::workers], queue))
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    stored = sum(queue.get() for _ in procs)
    for proc in procs:
        proc.join()
    return stored, time.perf_counter() - started


ROWS: list[dict] = []  # collected for bench/run_all.py's RESULT_JSON line


def rate(
    count: int,
    seconds: float,
    *,
    metric: str,
    unit: str = "entries/s",
    ceiling: float | None = None,
    target: str = "",
) -> str:
    value = count / seconds if seconds else 0.0
    ROWS.append(
        {
            "benchmark": "ingest",
            "metric": metric,
            "value": round(value, 1),
            "unit": unit,
            "ceiling": round(ceiling, 1) if ceiling else None,
            "ratio": round(value / ceiling, 2) if ceiling else None,
            "target": target,
        }
    )
    return f"{value:,.0f}/s ({count} in {seconds:.2f}s)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--pages", type=int, default=80, help="article pages to extract")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes for the parallel store run (PostgreSQL)",
    )
    args = parser.parse_args()

    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    cache.clear()
    try:
        with FeedServer() as server:
            run(server, args)
    finally:
        connection.creation.destroy_test_db(db_name, verbosity=0)
    print("RESULT_JSON " + json.dumps(ROWS))


def run(server: FeedServer, args: argparse.Namespace) -> None:
    vendor = connection.vendor
    total = args.feeds * args.entries
    docs = [make_feed(n, args.entries) for n in range(args.feeds)]
    print(f"ingest bench on {vendor}: {args.feeds} feeds x {args.entries} entries = {total} entries")

    # Parse only, both parsers, on the same bytes.
    started = time.perf_counter()
    n = sum(len(parse.parse_with_fastfeedparser(d).entries) for d in docs)
    figure = rate(n, time.perf_counter() - started, metric="parse only, fastfeedparser")
    print(f"  parse only, fastfeedparser:           {figure}")
    parse_ceiling = ROWS[-1]["value"]
    sample = docs[: max(1, len(docs) // 10)]
    started = time.perf_counter()
    n = sum(len(parse.parse_with_feedparser(d).entries) for d in sample)
    figure = rate(n, time.perf_counter() - started, metric="parse only, feedparser")
    print(f"  parse only, feedparser (1/10 sample): {figure}")

    # Parse + dedupe + store, bodies already in hand (what the target measures).
    sources = [
        Source.objects.create(name=f"Bench {i}", feed_url=f"https://news{i}.example.org/feed.xml")
        for i in range(args.feeds)
    ]
    stored, seconds, parse_seconds = store_all(sources, docs)
    target = ">= 2,000 entries/s on PostgreSQL"
    metric = f"parse+dedupe+store, 1 process ({connection.vendor})"
    figure = rate(stored, seconds, metric=metric, ceiling=parse_ceiling, target=target)
    print(f"  parse + dedupe + store, 1 process:    {figure}  (target {target})")
    print(
        f"    of which parse_feed {parse_seconds:.2f}s; dedupe + store {seconds - parse_seconds:.2f}s "
        f"= {stored / (seconds - parse_seconds):,.0f} entries/s"
    )
    Article.objects.all().delete()
    if args.workers > 1 and connection.vendor == "postgresql":
        # As deployed: an `ingest` Celery worker runs one process per core, each polling its
        # own sources; this runs the same split over forked processes.
        stored, seconds = store_parallel(sources, docs, workers=args.workers)
        metric = f"parse+dedupe+store, {args.workers} processes ({connection.vendor})"
        figure = rate(stored, seconds, metric=metric, ceiling=parse_ceiling, target=target)
        print(f"  parse + dedupe + store, {args.workers} processes:  {figure}")
        Article.objects.all().delete()

    # The whole poll over loopback HTTP, as poll_sources runs it.
    for i, doc in enumerate(docs):
        server.routes[f"/feed/{i}.xml"] = Route(body=doc, etag=f'"v{i}"')
    Source.objects.all().delete()
    sources = [
        Source.objects.create(name=f"Bench {i}", feed_url=server.url(f"/feed/{i}.xml"))
        for i in range(args.feeds)
    ]
    started = time.perf_counter()
    results = [polling.source_poll(source=s) for s in sources]
    poll_seconds = time.perf_counter() - started
    new = sum(r.new for r in results)
    failed = [r for r in results if r.failed]
    figure = rate(new, poll_seconds, metric="full poll over loopback HTTP, 1 process", ceiling=parse_ceiling)
    print(f"  full poll (fetch+parse+dedupe+store): {figure}  failed={len(failed)}")
    started = time.perf_counter()
    again = [polling.source_poll(source=s) for s in sources]
    figure = rate(len(again), time.perf_counter() - started, metric="re-poll answered 304", unit="feeds/s")
    print(
        f"  re-poll, all 304:                     {figure} feeds, not-modified={sum(r.outcome == 'not-modified' for r in again)}"
    )

    # Extraction: real fixture pages when present, else generated ones.
    folder = fixtures_dir()
    pages: list[bytes] = []
    if folder is not None:
        pages = [
            (p / "source.html").read_bytes() for p in sorted((folder / "articles").iterdir()) if p.is_dir()
        ]
    if not pages:
        pages = [
            f"<html><body><article><h1>{sentence(i, 8)}</h1><p>{' '.join(sentence(i + k, 20) for k in range(30))}</p></article></body></html>".encode()
            for i in range(40)
        ]
    server.routes["/robots.txt"] = Route(body=b"User-agent: *\nAllow: /\n", content_type="text/plain")
    articles = []
    source = sources[0]
    for i in range(args.pages):
        server.routes[f"/page/{i}"] = Route(body=pages[i % len(pages)], content_type="text/html")
        articles.append(
            Article.objects.create(
                source=source,
                url=server.url(f"/page/{i}"),
                title=f"Page {i}",
                slug=f"bench-page-{i}",
                status="new",
            )
        )
    timings = []
    started = time.perf_counter()
    outcomes = []
    for article in articles:
        t = time.perf_counter()
        outcomes.append(extraction.article_extract(article=article))
        timings.append(time.perf_counter() - t)
    seconds = time.perf_counter() - started
    figure = rate(
        len(articles), seconds, metric="extraction (robots, fetch, trafilatura, save)", unit="pages/s"
    )
    counts = {o: outcomes.count(o) for o in sorted(set(outcomes))}
    print(
        f"  extraction (fetch+trafilatura+save):  {figure} pages, "
        f"median {statistics.median(timings) * 1000:.0f} ms/page, outcomes {counts}"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"  ({os.cpu_count()} cores, load average {load:.1f} during the run)")


if __name__ == "__main__":
    main()
