"""Benchmark: the daily digest for 100,000 confirmed subscribers (issue #8).

    make bench-digest
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/newsroom_digest python bench/digest.py --subscribers 20000

PostgreSQL (created if missing), locmem email backend, every subscriber due now. Measures the
seconds to select who is due, then to claim, render and hand off every delivery chunk by chunk
(what the beat's fan-out tasks do, run in one process), and the queries per 1,000 deliveries.
Target: a constant handful of queries per chunk and per claim batch of
NEWSLETTER_CLAIM_BATCH_SIZE, none per subscriber or story: nine per chunk, and per batch of 50
five statements plus the BEGIN and COMMIT of the transaction that marks the batch sent and
records its stories (about 160 per 1,000 deliveries). Not a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Replace bench/ on the path with the project root: bench/http.py would shadow the stdlib http.
sys.path[0] = str(ROOT)
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/newsroom_bench_digest")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsroom.settings")

import django  # noqa: E402

ZONES = [
    "UTC", "Europe/London", "Europe/Berlin", "Europe/Helsinki", "Asia/Tokyo", "Asia/Kolkata",
    "Asia/Kathmandu", "Australia/Sydney", "Pacific/Auckland", "America/New_York",
    "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Sao_Paulo",
    "Africa/Lagos", "Asia/Singapore", "Asia/Dubai", "Pacific/Honolulu", "America/St_Johns",
    "Australia/Adelaide",
]  # fmt: skip


def ensure_database() -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        sys.exit("bench/digest.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    with psycopg.connect(
        f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/postgres", autocommit=True
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def prepare(count: int) -> None:
    """Fresh subscribers and deliveries; 40 published stories in five topics from the last day."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from articles.models import Article, Source, Summary, Topic
    from newsletter.models import Delivery, Subscriber
    from tests import factories

    call_command("migrate", verbosity=0, interactive=False)
    Delivery.objects.all().delete()
    Subscriber.objects.all().delete()
    topics = [factories.make_topic(f"Bench topic {n}") for n in range(5)]
    if not Article.objects.filter(title__startswith="Bench story").exists():
        source = Source.objects.create(name="Bench Wire", feed_url="https://bench.example.com/feed.xml")
        for n in range(40):
            article = factories.make_article(
                source=source, status=Article.Status.PUBLISHED, title=f"Bench story {n}"
            )
            Summary.create_version(article=article, approved_at=timezone.now(), **factories.summary_fields())
            article.topics.set([topics[n % 5]])
    Article.objects.filter(title__startswith="Bench story").update(
        published_on_site_at=timezone.now() - timezone.timedelta(hours=2)
    )
    rng = random.Random(8)
    now = timezone.now()
    Subscriber.objects.bulk_create(
        [
            Subscriber(
                email=f"bench{n}@example.com",
                status=Subscriber.Status.CONFIRMED,
                confirmed_at=now,
                timezone=ZONES[n % len(ZONES)],
                send_hour=0,  # due at any hour: the whole list goes out in this run
            )
            for n in range(count)
        ],
        batch_size=5000,
    )
    through = Subscriber.topics.through
    links = []
    topic_ids = [t.pk for t in Topic.objects.filter(name__startswith="Bench topic")]
    for pk in Subscriber.objects.values_list("pk", flat=True):
        if rng.random() < 0.5:  # half follow one or two topics, half get everything
            links += [
                through(subscriber_id=pk, topic_id=t) for t in rng.sample(topic_ids, rng.choice((1, 2)))
            ]
    through.objects.bulk_create(links, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def run() -> list[dict]:
    from itertools import batched

    from django.conf import settings
    from django.core import mail
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from newsletter import services

    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    chunk_size = settings.NEWSLETTER_CHUNK_SIZE
    claim_batch = settings.NEWSLETTER_CLAIM_BATCH_SIZE
    now = timezone.now()

    with CaptureQueriesContext(connection) as select_queries:
        t0 = time.perf_counter()
        due = services.due_subscribers(now=now)
        select_s = time.perf_counter() - t0
    total_due = sum(len(ids) for ids in due.values())

    per_chunk: list[int] = []
    report = services.DeliveryReport()
    t0 = time.perf_counter()
    for day, ids in due.items():
        for chunk in batched(ids, chunk_size, strict=False):
            with CaptureQueriesContext(connection) as queries:
                report.add(services.digest_deliver_chunk(subscriber_ids=list(chunk), day=day, now=now))
            per_chunk.append(len(queries))
            mail.outbox = []  # keep memory flat; the hand-off is what we measure
    send_s = time.perf_counter() - t0
    handled = sum(report.sent.values()) + sum(report.skipped.values())
    queries = sum(per_chunk)
    again = sum(len(ids) for ids in services.due_subscribers(now=now).values())

    print(f"subscribers due:         {total_due:,} in {len(due)} local dates")
    print(f"select due:              {select_s:.2f} s ({len(select_queries)} queries)")
    print(
        f"claim+render+hand off:   {send_s:.2f} s for {len(per_chunk)} chunks of {chunk_size}"
        f" (claim batches of {claim_batch})"
    )
    print(f"sent / skipped / failed: {sum(report.sent.values()):,} / {sum(report.skipped.values()):,} / "
          f"{sum(report.failed.values()):,}")  # fmt: skip
    print(f"throughput:              {handled / send_s:,.0f} deliveries/s")
    print(f"queries per chunk:       min {min(per_chunk)}, max {max(per_chunk)}")
    print(f"queries per 1,000:       {queries * 1000 / handled:.1f}")
    print(f"due again after the run: {again}")
    row = {"benchmark": "digest", "ceiling": None, "ratio": None}
    return [
        {**row, "metric": "subscribers", "value": total_due, "unit": "confirmed, all due", "target": ""},
        {**row, "metric": "select due", "value": round(select_s, 2), "unit": "s", "target": ""},
        {
            **row,
            "metric": "claim, render, hand off all",
            "value": round(send_s, 1),
            "unit": "s",
            "target": "",
        },
        {
            **row,
            "metric": "throughput",
            "value": round(handled / send_s),
            "unit": "deliveries/s",
            "target": "",
        },
        {
            **row,
            "metric": "queries per 1,000 deliveries",
            "value": round(queries * 1000 / handled, 1),
            "unit": "queries",
            "target": "constant per chunk and claim batch",
        },
        {
            **row,
            "metric": "queries per chunk (max)",
            "value": max(per_chunk),
            "unit": "queries",
            "target": "",
        },
        {**row, "metric": "sent twice", "value": again, "unit": "subscribers", "target": "0"},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    args = parser.parse_args()
    django.setup()
    ensure_database()
    t0 = time.perf_counter()
    prepare(args.subscribers)
    print(f"setup:                   {time.perf_counter() - t0:.1f} s")
    rows = run()
    print("RESULT_JSON " + json.dumps(rows))


if __name__ == "__main__":
    main()
