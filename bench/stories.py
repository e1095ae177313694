"""Stories benchmark: real-world feeds through parse → store → group, and how fast the
production grouping path places articles on the database.

    python bench/stories.py                               # SQLite
    DATABASE_URL=postgres://... python bench/stories.py   # PostgreSQL, then SQLite in a child
    make bench-stories

Runs in a throwaway test database (created and dropped here) and prints:
  * the fixture feeds (../shared/fixtures/feeds, real feeds of many sites) parsed and stored as
    fetch_source stores them, each entry taken as extracted from the feed's own text (no page
    fetch), then grouped by article_group in publication order: articles, stories, copies found.
    A copy is never summarised, so copies found in these real feeds = model calls avoided;
  * a synthetic wire replay of those entries (each republished an hour later by an invented
    outlet): how many copy detection finds, its recall. Not real traffic: the figure says
    what copy detection can catch, not what the real feeds saved;
  * the grouping throughput: a labelled stream (../shared/fixtures/stories: UCI titles with
    timestamps, AllSides titles with leads) placed by article_group, one transaction and one
    advisory lock per article as in production, against the same stream in grouping.MemoryStore
    (what cluster_eval measures): the ceiling, and the ratio the database costs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Replace bench/ on the path with the project root: bench/http.py would shadow the stdlib http.
sys.path[0] = str(ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsroom.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from articles.ingest import parse, polling  # noqa: E402
from articles.ingest.extraction import EXTRACTED_FIELDS  # noqa: E402
from articles.models import Article, Source, Story  # noqa: E402
from articles.stories import fingerprint as fp  # noqa: E402
from articles.stories import services  # noqa: E402
from articles.stories.evaluation import evaluate, read_articles  # noqa: E402
from articles.stories.grouping import MemoryStore, place_article  # noqa: E402
from tests.fakes.feed_server import fixtures_dir  # noqa: E402

ROWS: list[dict] = []  # collected for bench/run_all.py's RESULT_JSON line


def row(metric: str, value: float, unit: str, *, ceiling: float | None = None, target: str = "") -> None:
    ROWS.append(
        {
            "benchmark": "stories",
            "metric": metric,
            "value": round(value, 2) if isinstance(value, float) else value,
            "unit": unit,
            "ceiling": round(ceiling, 1) if ceiling else None,
            "ratio": round(value / ceiling, 2) if ceiling else None,
            "target": target,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=1000, help="articles per throughput stream")
    parser.add_argument(
        "--throughput-only", action="store_true", help="skip the feeds (the SQLite child run uses it)"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="on PostgreSQL, do not also measure SQLite")
    args = parser.parse_args()

    fixtures = fixtures_dir()
    if fixtures is None:
        sys.exit("bench/stories.py needs the shared fixtures folder ../shared/fixtures")
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    cache.clear()
    try:
        print(
            f"stories bench on {connection.vendor}: window {settings.STORY_WINDOW_HOURS:g} h, "
            f"threshold {settings.STORY_SIMILARITY_THRESHOLD:g}"
        )
        if not args.throughput_only:
            quality(fixtures / "stories")
            feeds(fixtures / "feeds")
        for name in ("uci-news-aggregator-5k.jsonl", "allsides-roundups-dev.jsonl"):
            throughput(fixtures / "stories" / name, limit=args.articles)
    finally:
        connection.creation.destroy_test_db(db_name, verbosity=0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"  ({os.cpu_count()} cores, load average {load:.1f} during the run)")
    if connection.vendor == "postgresql" and not args.no_sqlite:
        ROWS.extend(sqlite_child(args.articles))
    print("RESULT_JSON " + json.dumps(ROWS))


# Issue #14's goals for the grouping on the shared labelled data, with one default setting.
QUALITY_GOALS = {"uci-news-aggregator-5k.jsonl": 0.85, "allsides-roundups-dev.jsonl": 0.80}
SPEED_GOAL = 1000  # articles/s on one core


def quality(folder: Path) -> None:
    """What `manage.py cluster_eval` prints for each labelled file: B-cubed scores of the
    default settings and the grouping's own throughput (CPU time, one core, in memory)."""
    for name, goal in QUALITY_GOALS.items():
        path = folder / name
        if not path.is_file():
            print(f"  {name}: absent, skipped")
            continue
        result = evaluate(read_articles(path))
        s = result.scores
        short = name.split("-")[0]
        print(
            f"  cluster_eval {name}: B-cubed P {s.precision:.3f} R {s.recall:.3f} F1 {s.f1:.3f} "
            f"(goal {goal:.2f}), {result.articles_per_second:,.0f} articles/s on one core"
        )
        row(f"cluster_eval B-cubed F1, {short}", s.f1, "F1", target=f">= {goal:.2f}")
        row(
            f"cluster_eval throughput, {short}",
            result.articles_per_second,
            "articles/s",
            target=f">= {SPEED_GOAL:,}",
        )


def feeds(folder: Path) -> None:
    """Every fixture feed stored as its own source, then every entry grouped, oldest first."""
    now = timezone.now()
    stored = 0
    for n, path in enumerate(sorted(folder.glob("*.xml"))):
        source = Source.objects.create(name=path.stem, feed_url=f"https://feeds{n}.example.org/feed.xml")
        try:
            feed = parse.parse_feed(path.read_bytes())
        except parse.FeedError:
            continue  # a broken feed (the fixtures include one on purpose)
        ids, _ = polling.entries_store(source=source, feed=feed, base_url=source.feed_url, now=now)
        stored += len(ids)
    articles = list(Article.objects.order_by("published_at", "pk"))
    for article in articles:  # what article_extract leaves when the page gives nothing better
        article.set_text(article.feed_summary)
        to = (
            Article.Status.EXTRACTED
            if article.word_count >= settings.ARTICLE_MIN_WORDS
            else Article.Status.FAILED
        )
        article.transition_to(
            to, reason="bench: the feed's own text", **{f: getattr(article, f) for f in EXTRACTED_FIELDS}
        )
    started = time.perf_counter()
    outcomes = [services.article_group(article=article) for article in articles]
    seconds = time.perf_counter() - started
    copies = sum(o.is_copy for o in outcomes)
    extracted = sum(o.status == Article.Status.EXTRACTED for o in outcomes)
    stories = Story.objects.count()
    multi = Story.objects.filter(source_count__gt=1).count()
    print(f"  real fixture feeds: {stored} entries stored from {len(list(folder.glob('*.xml')))} feeds")
    print(
        f"    grouped {len(outcomes)} articles ({extracted} with enough text to summarise) into {stories} stories "
        f"({multi} with several sources), {len(outcomes) / stories:.2f} articles per story"
    )
    print(
        f"    copies found in the real feeds: {copies} = model calls avoided on real traffic "
        f"({copies / max(1, extracted):.1%} of the summaries these feeds would have cost)"
    )
    print(f"    grouping: {len(outcomes) / seconds:,.0f} articles/s")
    row("fixture feeds: articles grouped", len(outcomes), "articles")
    row("fixture feeds: stories", stories, "stories")
    row("real fixture feeds: copies found = model calls avoided", copies, "calls", ceiling=extracted)
    syndication(articles)


def syndication(articles: list[Article]) -> None:
    """The issue's premise on these real texts: a wire outlet republishes every entry an hour
    later with its own credit line (so no exact duplicate). Each republished text that is long
    enough to fingerprint should come out a copy: found / republished is copy detection's
    recall. The republished texts are made up here, so the copies found are not calls the real
    feeds avoided (those are the figure above); they say what copy detection would catch."""
    wire = Source.objects.create(name="Wire replay", feed_url="https://wire.example.org/feed.xml")
    originals = [a for a in articles if len(a.extracted_text.split()) >= fp.MIN_WORDS]
    replays = Article.objects.bulk_create(
        [
            Article(
                source=wire,
                url=f"https://wire.example.org/{a.pk}",
                slug=f"wire-{a.pk}",
                title=a.title,
                extracted_text=a.extracted_text + " Distributed by the Example Wire Service.",
                published_at=a.published_at + dt.timedelta(hours=1),
                status=Article.Status.EXTRACTED,
            )
            for a in originals
        ]
    )
    outcomes = [services.article_group(article=replay) for replay in replays]
    found = sum(o.is_copy for o in outcomes)
    wrong = sum(1 for o, a in zip(outcomes, originals, strict=True) if o.is_copy and o.copy_of != a.pk)
    print(
        f"  synthetic wire replay (not real traffic): the {len(replays)} entries with {fp.MIN_WORDS}+ words "
        "republished an hour later by an invented outlet with a credit line"
    )
    print(
        f"    {found} found as copies (recall {found / max(1, len(replays)):.1%}, {wrong} of the wrong original): "
        f"{found} model calls a syndicating outlet like this would avoid, not a saving in the real feeds"
    )
    row("synthetic wire replay: copies found (recall)", found, "calls", ceiling=len(replays))


def throughput(path: Path, *, limit: int) -> None:
    """article_group over a labelled stream on this database, and the MemoryStore ceiling."""
    if not path.is_file():
        print(f"  {path.name}: absent, skipped")
        return
    with path.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for _, line in zip(range(limit), lines, strict=False)]
    source = Source.objects.create(name=path.stem, feed_url=f"https://{path.stem}.example.org/feed.xml")
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    articles = Article.objects.bulk_create(
        [
            Article(
                source=source,
                url=f"https://{path.stem}.example.org/{n}",
                slug=f"{path.stem}-{n}",
                title=r["title"][:500],
                extracted_text=r["text"],
                # A set without dates is one pool (the README of the fixtures says so).
                published_at=dt.datetime.fromisoformat(r["published"]) if r.get("published") else base,
                status=Article.Status.EXTRACTED,
            )
            for n, r in enumerate(rows)
        ],
        batch_size=500,
    )
    window = dt.timedelta(hours=settings.STORY_WINDOW_HOURS)
    memory = MemoryStore()
    inputs = [services.article_input(a) for a in articles]
    started = time.perf_counter()
    for item in inputs:
        place_article(item, memory, window=window, threshold=settings.STORY_SIMILARITY_THRESHOLD)
    ceiling = len(inputs) / (time.perf_counter() - started)

    started = time.perf_counter()
    for article in articles:
        services.article_group(article=article)
    seconds = time.perf_counter() - started
    rate = len(articles) / seconds
    name = path.name.split("-")[0]
    print(
        f"  {name} stream, {len(articles)} articles: database {rate:,.0f} articles/s "
        f"({seconds * 1000 / len(articles):.1f} ms each), memory {ceiling:,.0f}/s, ratio {rate / ceiling:.2f}; "
        f"{len(memory.stories)} stories"
    )
    row(f"grouping throughput, {name} stream ({connection.vendor})", rate, "articles/s", ceiling=ceiling)


def sqlite_child(articles: int) -> list[dict]:
    """The throughput on SQLite too, in a child process (one database per process)."""
    env = {
        **os.environ,
        "DATABASE_URL": "sqlite:///" + tempfile.gettempdir() + "/newsroom-bench-stories.sqlite3",
    }
    proc = subprocess.run(
        [sys.executable, __file__, "--throughput-only", "--articles", str(articles)],
        env=env,
        capture_output=True,
        text=True,
    )
    print(proc.stdout.replace("RESULT_JSON", "").rsplit("\n", 2)[0])
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT_JSON "):
            return json.loads(line.removeprefix("RESULT_JSON "))
    print(proc.stderr[-2000:])
    return []


if __name__ == "__main__":
    main()
