"""Summary throughput through a real Celery worker (`make bench-summaries`).

200 articles go through `summarize_article` on a threads-pool worker (concurrency 16,
prefetch 1) against the loopback fake Messages API with a fixed 1 s latency per call. It
prints articles/min and the ratio to the ideal (concurrency / latency), then the input
tokens per summary with and without prompt caching.

Needs PostgreSQL and Redis: DATABASE_URL (a postgres:// URL; the bench uses its own
database "<name>_bench", dropped and re-created each run) and REDIS_URL. Example:

  DATABASE_URL=postgres://postgres@127.0.0.1:5432/newsroom REDIS_URL=redis://127.0.0.1:6379/2 \\
      .venv/bin/python bench/summaries.py --articles 200 --concurrency 16 --latency 1

With --cost (`make bench-summary-cost`) it measures what summaries cost instead: model calls,
tokens and dollars per 100 incoming articles with and without story summaries, on a stream
where events repeat across sources, and the size of a 10-source story's request; see
cost_main. Runs in-process on SQLite in memory, whatever DATABASE_URL says, with no broker;
needs the shared fixtures (../shared/fixtures/stories) and skips without them.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import itertools
import json
import logging
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from articles.summarizers.base import Usage

ROOT = Path(__file__).resolve().parent.parent
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
    parser.add_argument("--cost", action="store_true", help="model calls and dollars per 100 articles")
    parser.add_argument("--events", type=int, default=100, help="--cost: fixture events in the stream")
    args = parser.parse_args()
    if args.cost:
        return cost_main(events=args.events)

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


# --- Cost per 100 articles (--cost) -------------------------------------------------------
# Production's path in-process: each article is created as extraction leaves it, then the
# grouping task runs in arrival order with eager Celery; grouping chains the lead's summary
# or the weighing of an update, exactly as on a worker. The model is the loopback fake
# Messages API (tests/fakes/anthropic_server.py), which counts tokens like the real API,
# prompt caching included; dollars come from SUMMARY_PRICES, as on the desk's spend page.

FIXTURE = "allsides-roundups-dev.jsonl"
EVENT_GAP_MINUTES = 12  # a new event every 12 minutes: 100 events make a 20-hour news day
REPORT_SPREAD_MINUTES = 180  # the other outlets report within three hours of the first
COPY_EVERY = 2  # a syndication partner republishes the first report of every 2nd event...
COPY_DELAY_MINUTES = 30  # ...half an hour later, with its own credit line
CREDIT_LINE = " Distributed by the Example Syndication Service."


@dataclass(frozen=True)
class Arrival:
    """One incoming article: when it arrives (minutes into the stream), from which source."""

    minute: float
    source: str
    title: str
    text: str
    event: str  # the gold story: the fixture's cluster


@dataclass
class CostRun:
    label: str
    articles: int = 0
    stories: int = 0
    mixed_stories: int = 0  # stories the grouping made of reports of several gold events
    mixed_articles: int = 0
    calls: int = 0
    input_tokens: int = 0  # uncached + cache writes + cache reads, as billed
    cache_read_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    copies: int = 0  # never summarised, either way
    covered: int = 0  # originals covered by their story's summary instead of their own
    thin: int = 0  # of those, reports too short to cite (STORY_SUMMARY_MIN_WORDS): no update
    refreshes: Counter = field(default_factory=Counter)  # refresh_story_summary results
    unchanged: int = 0  # rewrites the model found brought nothing new (a call, no version)
    # What the fake Messages API received, each with the input tokens billed for it.
    requests: list[tuple[dict, Usage]] = field(default_factory=list, repr=False)

    def per_100(self, value: float) -> float:
        return value * 100 / self.articles if self.articles else 0.0


def fixture_stream(path: Path, *, events: int) -> list[Arrival]:
    """The first `events` AllSides roundups whose three outlets all have a lead, as a news day:
    a new event every EVENT_GAP_MINUTES, its other outlets within REPORT_SPREAD_MINUTES, and a
    syndicated copy of the first report of every COPY_EVERY-th event. The fixture names no
    outlets; an outlet is the report's position in its roundup (A, B, C)."""
    rows: dict[str, list[dict]] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            rows.setdefault(row["cluster"], []).append(row)
            if len(rows) > events * 2:
                break
    chosen = [reports for reports in rows.values() if all(r["text"].strip() for r in reports)][:events]
    rng = random.Random(15)
    stream = []
    for i, reports in enumerate(chosen):
        start = i * EVENT_GAP_MINUTES
        offsets = [0.0] + sorted(rng.uniform(0, REPORT_SPREAD_MINUTES) for _ in reports[1:])
        for offset, row in zip(offsets, reports, strict=True):
            outlet = "Outlet " + "ABCDEFGH"[int(row["id"].rsplit("-", 1)[1])]
            stream.append(Arrival(start + offset, outlet, row["title"], row["text"], row["cluster"]))
        if i % COPY_EVERY == 0:
            first = reports[0]
            stream.append(
                Arrival(
                    start + COPY_DELAY_MINUTES,
                    "Syndication partner",
                    first["title"],
                    first["text"] + CREDIT_LINE,
                    first["cluster"],
                )
            )
    return sorted(stream, key=lambda a: a.minute)


# Phrases for invented reports: every sentence names its event, the rest varies by outlet, so
# reports of one event group together without being copies of each other.
_WHO = [
    "Officials", "Residents", "The mayor's office", "Emergency crews", "Local businesses",
    "Witnesses", "Council members", "Engineers", "Insurers", "Neighbours", "The police",
    "A spokesperson for the regional government", "Volunteers", "Hospital staff",
]  # fmt: skip
_SAID = [
    "said on Tuesday that", "confirmed late in the evening that", "told reporters that",
    "warned in a statement that", "estimated that", "reported that", "argued at a briefing that",
    "wrote in a letter that", "said in an interview that", "posted online that",
]  # fmt: skip
_WHAT = [
    "{n} homes were damaged by", "{n} people had asked for help after",
    "repairs after {event} could cost {n} million dollars", "the main road stayed closed because of",
    "schools sent pupils home early during", "shops on the high street shut their doors during",
    "the council opened an emergency shelter after", "a telephone line was set up for people affected by",
    "trains were cancelled for the rest of the day because of", "the clean-up after {event} began overnight",
    "volunteers handed out blankets and food after", "insurers expect a wave of claims after",
]  # fmt: skip
_CLOSE = [
    "", " according to early figures", " although the count may rise", " the highest figure so far",
    " and more updates are expected", " in the hardest-hit area",
]  # fmt: skip


def invented_report(event: str, outlet: int, *, words: int) -> str:
    """About `words` words of plain news prose on `event`, different for every outlet: its own
    sentences and its own numbers, so each report brings facts the others lack."""
    rng = random.Random(f"{event}/{outlet}")
    sentences, count = [], 0
    while count < words:
        template = rng.choice(_WHAT)
        what = template.format(n=rng.randint(2, 9000), event=event)
        if "{event}" not in template:
            what = f"{what} {event}"
        sentence = f"{rng.choice(_WHO)} {rng.choice(_SAID)} {what}{rng.choice(_CLOSE)}."
        sentences.append(sentence)
        count += len(sentence.split())
    return " ".join(sentences)


def invented_story(event: str, title: str, *, sources: int, words: int, start: float = 0.0) -> list[Arrival]:
    """One event told by `sources` outlets in their own words, five minutes apart."""
    return [
        Arrival(start + 5 * n, f"Outlet {n + 1}", title, invented_report(event, n, words=words), event)
        for n in range(sources)
    ]  # fmt: skip


@contextlib.contextmanager
def eager_tasks() -> Iterator[None]:
    """Run every task in this process as it is queued (no broker, no worker)."""
    from newsroom.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = before


class RefreshClock:
    """Production's debounce on a simulated clock. Eager Celery ignores countdowns, so every
    arriving report would be weighed at once (the worst case). Here each refresh_story_summary
    queued with a countdown waits on this clock instead, and runs once the stream reaches its
    time: several reports arriving within STORY_UPDATE_DELAY_SECONDS cost one decision."""

    def __init__(self) -> None:
        self.now = 0.0  # seconds into the stream
        self._due: list[tuple[float, int, tuple]] = []
        self._order = itertools.count()

    def schedule(self, args: tuple, countdown: float = 0, **options: object) -> None:
        heapq.heappush(self._due, (self.now + countdown, next(self._order), tuple(args)))

    def advance(self, to: float | None) -> None:
        """Run every refresh due by `to` (None: all of them, however late)."""
        from articles.summarizers.tasks import refresh_story_summary

        while self._due and (to is None or self._due[0][0] <= to):
            due, _, args = heapq.heappop(self._due)
            self.now = max(self.now, due)
            refresh_story_summary.apply(args=args)
        if to is not None:
            self.now = max(self.now, to)


@contextlib.contextmanager
def model_on(url: str, *, story_summaries: bool) -> Iterator[None]:
    """The anthropic backend pointed at the fake, no batching, no daily cap."""
    from django.test import override_settings

    before = os.environ.get("ANTHROPIC_BASE_URL")
    os.environ["ANTHROPIC_BASE_URL"] = url  # read by the SDK itself
    try:
        with override_settings(
            STORY_SUMMARIES=story_summaries,
            SUMMARY_BACKEND="anthropic",
            ANTHROPIC_API_KEY="bench-key",
            SUMMARY_BATCH_THRESHOLD=0,
            SUMMARY_DAILY_BUDGET_USD=Decimal(0),
        ):
            yield
    finally:
        if before is None:
            os.environ.pop("ANTHROPIC_BASE_URL", None)
        else:
            os.environ["ANTHROPIC_BASE_URL"] = before


def run_stream(
    arrivals: list[Arrival], *, label: str, story_summaries: bool, debounced: bool = False
) -> CostRun:
    """Feed `arrivals` through grouping and summaries on an emptied database, in autocommit
    (tasks chained on commit run as soon as their transaction ends), and count what the model
    was asked and what it cost."""
    from celery.signals import task_postrun
    from django.conf import settings
    from django.core.management import call_command
    from django.db.models import F
    from django.utils import timezone

    from articles.models import Article, ModelCall, Source, Story
    from articles.stories.tasks import group_article
    from articles.summarizers.base import Usage
    from articles.summarizers.tasks import refresh_story_summary
    from tests.fakes.anthropic_server import FakeAnthropic

    call_command("flush", interactive=False, verbosity=0)
    results: dict[str, list] = {}

    def record(sender=None, retval=None, **kwargs) -> None:
        results.setdefault(sender.name, []).append(retval)

    clock = RefreshClock()
    task_postrun.connect(record, weak=False)
    start = timezone.now() - timedelta(days=2)
    sources: dict[str, Source] = {}
    events: dict[int, str] = {}  # article id → gold event
    try:
        with contextlib.ExitStack() as stack:
            fake = stack.enter_context(FakeAnthropic())
            stack.enter_context(model_on(fake.url, story_summaries=story_summaries))
            stack.enter_context(eager_tasks())
            if debounced:
                stack.enter_context(_patched(refresh_story_summary, "apply_async_on_commit", clock.schedule))
            for n, arrival in enumerate(sorted(arrivals, key=lambda a: a.minute)):
                clock.advance(arrival.minute * 60)
                source = sources.get(arrival.source)
                if source is None:
                    slug = arrival.source.lower().replace(" ", "-")
                    source = Source.objects.create(
                        name=arrival.source, feed_url=f"https://{slug}.example.org/feed.xml"
                    )
                    sources[arrival.source] = source
                article = Article(
                    source=source,
                    url=f"{source.feed_url.removesuffix('feed.xml')}{n}",
                    title=arrival.title[:500],
                    published_at=start + timedelta(minutes=arrival.minute),
                    status=Article.Status.EXTRACTED,  # as extraction leaves it
                )
                article.set_text(arrival.text)
                article.save()
                events[article.pk] = arrival.event
                group_article.delay(article.pk)
            clock.advance(None)
    finally:
        task_postrun.disconnect(record)

    run = CostRun(label, articles=len(arrivals), stories=Story.objects.filter(article_count__gt=0).count())
    told: dict[int, list[str]] = {}
    for pk, story_id in Article.objects.values_list("pk", "story_id"):
        told.setdefault(story_id, []).append(events[pk])
    mixed = [story for story in told.values() if len(set(story)) > 1]
    run.mixed_stories, run.mixed_articles = len(mixed), sum(len(story) for story in mixed)
    calls = list(ModelCall.objects.order_by("pk"))  # one per request, in the order sent
    for call in calls:
        run.calls += 1
        run.input_tokens += call.input_tokens + call.cache_write_tokens + call.cache_read_tokens
        run.cache_read_tokens += call.cache_read_tokens
        run.output_tokens += call.output_tokens
        run.cost_usd += call.cost_usd
    run.copies = sum(1 for r in results.get("articles.tasks.group_article", []) if r.get("copy_of"))
    originals = Article.objects.filter(duplicate_of__isnull=True)
    run.covered = originals.filter(model_calls__isnull=True).distinct().count()
    if story_summaries:
        others = originals.exclude(story__lead_id=F("pk"))
        run.thin = others.filter(word_count__lt=settings.STORY_SUMMARY_MIN_WORDS).count()
    run.refreshes = Counter(r["result"] for r in results.get("articles.tasks.refresh_story_summary", []))
    run.unchanged = sum(
        1 for r in results.get("articles.tasks.summarize_article", []) if r["result"] == "unchanged"
    )
    run.requests = [
        (body, Usage(call.input_tokens, call.output_tokens, call.cache_write_tokens, call.cache_read_tokens))
        for body, call in zip(fake.requests, calls, strict=True)
    ]
    return run


@contextlib.contextmanager
def _patched(target: object, name: str, value: object) -> Iterator[None]:
    setattr(target, name, value)
    try:
        yield
    finally:
        delattr(target, name)  # the task's own method shows through again


@dataclass(frozen=True)
class RequestSize:
    sources: int
    user_tokens: int  # the user message: fenced sources, headers, topic list, current summary
    source_chars: int  # the source texts alone, which STORY_SUMMARY_INPUT_TOKENS caps
    source_tokens: int
    prefix_tokens: int  # system prompt + tool definition: the cached part
    billed_tokens: int  # input tokens as billed, the cached part included


def largest_story_request(requests: list[tuple[dict, Usage]]) -> RequestSize | None:
    """The story request with the most sources (then the longest) that the fake received."""
    from tests.fakes.anthropic_server import sources_from, tokens, user_content

    best = None
    for body, usage in requests:
        content = user_content(body)
        sources = sources_from(content)
        if len(sources) >= 2 and (best is None or (len(sources), len(content)) > best[0]):
            best = ((len(sources), len(content)), content, sources, usage)
    if best is None:
        return None
    _, content, sources, usage = best
    return RequestSize(
        sources=len(sources),
        user_tokens=tokens(content),
        source_chars=sum(len(text) for text in sources.values()),
        source_tokens=tokens("".join(sources.values())),
        prefix_tokens=usage.cache_read_tokens + usage.cache_write_tokens,
        billed_tokens=usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens,
    )


def cost_main(*, events: int) -> int:
    """Print the cost table (see the module docstring) and its RESULT_JSON rows."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsroom.settings")
    # Everything runs in this process: its own database, no broker, no shared cache.
    os.environ["DATABASE_URL"] = "sqlite://:memory:"
    for name in ("REDIS_URL", "PAGES_REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        os.environ.pop(name, None)
    os.environ.setdefault("ANTHROPIC_API_KEY", "bench-key")
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # one line per task would bury the table
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    # The in-memory broker has no host name to resolve, and kombu says so on every task.
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)

    from tests.fakes.feed_server import fixtures_dir

    fixtures = fixtures_dir()
    path = fixtures / "stories" / FIXTURE if fixtures else None
    if path is None or not path.is_file():
        print(f"bench/summaries.py --cost needs ../shared/fixtures/stories/{FIXTURE}; skipped.")
        skipped = {"benchmark": "cost", "metric": "skipped: fixtures absent"}
        print("RESULT_JSON " + json.dumps([{**skipped, "value": None, "unit": ""}]))
        return 0
    stream = fixture_stream(path, events=events)
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        alone = run_stream(stream, label="articles summarised alone", story_summaries=False)
        eager = run_stream(
            stream, label="story summaries, each report weighed on arrival (worst case)", story_summaries=True
        )
        debounced = run_stream(
            stream,
            label=f"story summaries, reports weighed {settings.STORY_UPDATE_DELAY_SECONDS} s after arrival",
            story_summaries=True,
            debounced=True,
        )
        ten = invented_story(
            "the storm flooding in the harbour district",
            "Storm floods the harbour district",
            sources=10,
            words=2000,
        )
        big = run_stream(ten, label="10-source story", story_summaries=True)
    finally:
        connection.creation.destroy_test_db(db_name, verbosity=0)
    return report_cost(stream, [alone, eager, debounced], ten, big)


def report_cost(stream: list[Arrival], runs: list[CostRun], ten: list[Arrival], big: CostRun) -> int:
    from django.conf import settings

    budget = settings.STORY_SUMMARY_INPUT_TOKENS
    model = settings.ANTHROPIC_MODEL
    prices = settings.SUMMARY_PRICES.get(model, {})
    outlets = Counter(a.source for a in stream)
    print(
        f"summary cost: {len(stream)} articles, {len({a.event for a in stream})} events of {FIXTURE} "
        f"(each told by 3 outlets; {outlets['Syndication partner']} syndicated copies with a credit line), "
        f"a new event every {EVENT_GAP_MINUTES} min, other outlets within {REPORT_SPREAD_MINUTES} min"
    )
    print(
        f"model {model} at ${prices.get('input')}/{prices.get('output')} per million input/output tokens "
        f"(cache write {prices.get('cache_write')}, read {prices.get('cache_read')}); texts are the fixture's "
        f"leads (~60 words), so input tokens are mostly the cached system prompt"
    )
    print()
    print(
        "| | articles in | stories | model calls | calls per 100 articles | input tokens (cache reads) "
        "| output tokens | $ per 100 articles | calls avoided: copies / covered by a story / updates skipped, nothing new |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for run in runs:
        print(
            f"| {run.label} | {run.articles} | {run.stories} | {run.calls} | {run.per_100(run.calls):.1f} | "
            f"{run.input_tokens:,} ({run.cache_read_tokens:,}) | {run.output_tokens:,} | "
            f"${run.per_100(float(run.cost_usd)):.4f} | {run.copies} / {run.covered} / {run.refreshes['nothing-new']} |"
        )
    print()
    print(
        f"grouping, the same in every row: {runs[0].stories} stories for {len({a.event for a in stream})} events; "
        f"{runs[0].mixed_stories} stories ({runs[0].mixed_articles} articles) join reports of different events "
        f"(the fixture has no dates, so one pool), and a story summary covers those too"
    )
    for run in runs[1:]:
        r = run.refreshes
        print(
            f"{run.label}: {r['regenerate'] + r['ask-model']} rewrites ({r['regenerate']} for new numbers, dates "
            f"or quotes, {r['ask-model']} for new names, which the model weighs; {run.unchanged} found nothing new), "
            f"{r['nothing-new']} reports skipped by code with nothing new, {run.thin} too short to cite "
            f"(under {settings.STORY_SUMMARY_MIN_WORDS} words)"
        )
    rows = []
    for run, short in zip(
        runs, ("alone", "stories, worst case", "stories, after the update delay"), strict=True
    ):
        rows.append(
            cost_row(f"model calls per 100 articles, {short}", round(run.per_100(run.calls), 1), "calls")
        )
        rows.append(
            cost_row(f"$ per 100 articles, {short}", round(run.per_100(float(run.cost_usd)), 4), "USD")
        )
    largest = largest_story_request(runs[1].requests)
    if largest:
        print(
            f"largest story: {largest.sources} sources cited; its request {largest.billed_tokens:,} input tokens "
            f"= {largest.prefix_tokens:,} system prompt and tool (cached) + {largest.billed_tokens - largest.prefix_tokens:,} "
            f"message, of which source texts {largest.source_tokens:,}; "
            f"STORY_SUMMARY_INPUT_TOKENS + system prompt = {budget + largest.prefix_tokens:,}"
        )
    widest = largest_story_request(big.requests)
    if widest:
        words = sum(len(a.text.split()) for a in ten)
        framing = widest.user_tokens - widest.source_tokens
        print(
            f"10-source story ({len(ten)} invented reports, {words:,} words, {big.calls} calls as they arrive): "
            f"the widest request cites {widest.sources} sources; its user message {widest.user_tokens:,} tokens = "
            f"source texts {widest.source_tokens:,} ({widest.source_chars:,} characters; STORY_SUMMARY_INPUT_TOKENS "
            f"{budget:,}, as sources.estimate_tokens counts) + {framing:,} fences, headers, topic list and "
            f"current summary; billed with the cached system prompt and tool ({widest.prefix_tokens:,}): "
            f"{widest.billed_tokens:,} input tokens, against budget + system prompt {budget + widest.prefix_tokens:,}"
        )
        rows.append(
            cost_row("10-source story: source texts in the request", widest.source_tokens, "tokens",
                     ceiling=budget, target="<= STORY_SUMMARY_INPUT_TOKENS")
        )  # fmt: skip
        rows.append(
            cost_row("10-source story: request input tokens", widest.billed_tokens, "tokens",
                     ceiling=budget + widest.prefix_tokens, target="budget + system prompt (+ framing)")
        )  # fmt: skip
    print("RESULT_JSON " + json.dumps(rows))
    return 0


def cost_row(metric: str, value: float, unit: str, *, ceiling: float | None = None, target: str = "") -> dict:
    ratio = round(value / ceiling, 3) if ceiling else None
    return {"benchmark": "cost", "metric": metric, "value": value, "unit": unit,
            "ceiling": ceiling, "ratio": ratio, "target": target}  # fmt: skip


if __name__ == "__main__":
    # Replace bench/ on the path with the project root: bench/http.py would shadow the stdlib http.
    sys.path[0] = str(ROOT)
    sys.exit(main())
