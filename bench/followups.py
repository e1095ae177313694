"""Follow-ups benchmark: how long proposing answers takes per new article against 10,000 open
"What to watch" questions, and the threshold's precision and recall on the labelled pairs.

    python bench/followups.py                               # SQLite
    DATABASE_URL=postgres://... python bench/followups.py   # PostgreSQL
    python bench/followups.py --questions 50000

Runs in a throwaway test database (created and dropped here) and prints:
  * the sweep of STORY_FOLLOWUP_THRESHOLD on tests/articles/stories/followup_pairs.py, with
    document frequencies from the pairs' own reports and, when ../shared/fixtures is there,
    from the AllSides leads (what a running site's grouping has counted);
  * answers_propose per article: `--questions` open questions (sentences of AllSides leads, three
    per story, every story seen today, document frequencies from the same leads), then
    `--articles` new reports (AllSides titles and leads the questions were not taken from)
    proposed one by one: milliseconds per article (mean, p95, max), queries per article,
    questions scored per article (at most followups.CANDIDATES) and proposals made.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
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
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from articles.models import Article, OpenQuestion, QuestionTerm, Source, Story  # noqa: E402
from articles.stories import followups  # noqa: E402
from articles.stories.similarity import term_counts  # noqa: E402
from articles.stories.store import count_terms  # noqa: E402
from tests.articles.stories.followup_pairs import PAIRS  # noqa: E402
from tests.fakes.feed_server import fixtures_dir  # noqa: E402

ROWS: list[dict] = []  # collected for bench/run_all.py's RESULT_JSON line


def row(metric: str, value: float, unit: str, *, target: str = "") -> None:
    ROWS.append(
        {
            "benchmark": "followups",
            "metric": metric,
            "value": round(value, 2) if isinstance(value, float) else value,
            "unit": unit,
            "ceiling": None,
            "ratio": None,
            "target": target,
        }
    )


def read_allsides() -> list[tuple[str, str]]:
    fixtures = fixtures_dir()
    path = fixtures / "stories" / "allsides-roundups-dev.jsonl" if fixtures else None
    if path is None or not path.is_file():
        return []
    with path.open(encoding="utf-8") as lines:
        return [(d["title"], d["text"]) for d in map(json.loads, lines) if d.get("text")]


def sweep(background: list[tuple[str, str]]) -> None:
    reports = {(pair.title, pair.lead) for pair in PAIRS}
    threshold = settings.STORY_FOLLOWUP_THRESHOLD
    for name, corpus in (
        ("the pairs' own reports", reports),
        ("the AllSides leads", set(background) | reports),
    ):
        if name.startswith("the AllSides") and not background:
            continue
        frequencies: dict[str, int] = {}
        for title, lead in corpus:
            for term in term_counts(title, lead):
                frequencies[term] = frequencies.get(term, 0) + 1
        scored = [
            (
                *followups.answer_score(
                    p.question, p.title, p.lead, documents=len(corpus), frequencies=frequencies
                ),
                p.answers,
            )
            for p in PAIRS
        ]
        print(f"threshold sweep, document frequencies of {name} ({len(corpus)} documents):")
        for step in range(20, 56, 4):
            cut = step / 100
            proposed = [
                a for score, shared, a in scored if score >= cut and shared >= followups.MIN_SHARED_TERMS
            ]
            relevant = sum(p.answers for p in PAIRS)
            precision = sum(proposed) / len(proposed) if proposed else 1.0
            recall = sum(proposed) / relevant
            mark = "  <- STORY_FOLLOWUP_THRESHOLD" if abs(cut - threshold) < 1e-9 else ""
            print(f"  {cut:.2f}: precision {precision:.2f}, recall {recall:.2f}{mark}")
            if abs(cut - threshold) < 1e-9:
                label = "own" if name.startswith("the pairs") else "AllSides"
                row(f"precision at the threshold ({label} IDF)", precision, "share", target=">= 0.85")
                row(f"recall at the threshold ({label} IDF)", recall, "share", target=">= 0.9")


def proposing(texts: list[tuple[str, str]], *, questions: int, articles: int) -> None:
    now = timezone.now()
    for title, lead in texts:
        count_terms(term_counts(title, lead))  # what grouping counted
    asked_from = texts[: len(texts) - articles]
    sentences = [s for _, lead in asked_from for s in followups.watch_sentences(lead)]
    if len(sentences) < questions:
        sentences = (sentences * (questions // max(len(sentences), 1) + 1))[:questions]
    sentences = sentences[:questions]
    stories = Story.objects.bulk_create(
        Story(title=f"Story {n}", slug=f"story-{n}", last_seen_at=now, first_seen_at=now, article_count=1)
        for n in range((questions + 2) // 3)
    )
    asked = now - timezone.timedelta(hours=1)
    rows = OpenQuestion.objects.bulk_create(
        (
            OpenQuestion(story=stories[n // 3], text=text, created_at=asked)
            for n, text in enumerate(sentences)
        ),
        batch_size=2000,
    )
    started = time.perf_counter()
    for start in range(0, len(rows), 2000):
        followups._index(rows[start : start + 2000])
    indexed = time.perf_counter() - started
    print(
        f"{len(rows)} open questions on {len(stories)} stories, {QuestionTerm.objects.count()} index rows "
        f"(indexed in {indexed:.1f} s)"
    )

    source = Source.objects.create(name="Bench", feed_url="https://bench.example/feed.xml")
    timings, query_counts, scored, proposals = [], [], [], 0
    real_scoring = followups._match

    def counting_score(*args, **kwargs):
        scored[-1] += 1
        return real_scoring(*args, **kwargs)

    followups._match = counting_score
    try:
        for n, (title, lead) in enumerate(texts[-articles:]):
            story = Story.objects.create(
                title=title[:500], slug=f"new-{n}", last_seen_at=now, first_seen_at=now
            )
            article = Article.objects.create(
                source=source,
                url=f"https://bench.example/{n}",
                slug=f"bench-{n}",
                title=title[:500],
                extracted_text=lead,
                published_at=now,
                status=Article.Status.EXTRACTED,
                story=story,
            )
            scored.append(0)
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                proposals += len(followups.answers_propose(article=article))
                timings.append((time.perf_counter() - started) * 1000)
            query_counts.append(len(queries))
    finally:
        followups._match = real_scoring
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(
        f"answers_propose on {connection.vendor}, {len(timings)} articles against {len(rows)} open questions:\n"
        f"  per article: mean {statistics.mean(timings):.1f} ms, p95 {p95:.1f} ms, max {timings[-1]:.1f} ms\n"
        f"  queries per article: max {max(query_counts)}; questions scored: mean "
        f"{statistics.mean(scored):.1f}, max {max(scored)} (cap {followups.CANDIDATES}); "
        f"proposals made: {proposals}"
    )
    row(
        f"propose, per article ({len(rows)} open questions, {connection.vendor})",
        statistics.mean(timings),
        "ms",
    )
    row(f"propose, p95 per article ({connection.vendor})", p95, "ms")
    row("questions scored per article (max)", max(scored), "questions", target=f"<= {followups.CANDIDATES}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--articles", type=int, default=200)
    args = parser.parse_args()

    background = read_allsides()
    sweep(background)
    if not background:
        print("../shared/fixtures is absent: proposing is measured on the labelled pairs' texts only")
    texts = background or [(p.title, p.lead) for p in PAIRS]
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    cache.clear()
    try:
        proposing(texts, questions=args.questions, articles=min(args.articles, len(texts) // 2))
    finally:
        connection.creation.destroy_test_db(db_name, verbosity=0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"  ({os.cpu_count()} cores, load average {load:.1f} during the run)")
    print("RESULT_JSON " + json.dumps(ROWS))


if __name__ == "__main__":
    main()
