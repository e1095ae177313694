"""Measure story grouping on labelled articles: `manage.py cluster_eval FILE.jsonl
[--output OUT.jsonl]`. Runs the production grouping code with the configured settings in
memory (never on the live database), with the embeddings backend when one is configured, and
prints B-cubed scores and throughput."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from articles.stories.embeddings import scoring
from articles.stories.evaluation import EvaluationInputError, evaluate, read_articles


class Command(BaseCommand):
    help = (
        "Group labelled articles (JSON lines: id, title, text, published, optional source and "
        "cluster) as production would, write each id with its story id, and print B-cubed "
        "precision, recall and F1 against `cluster` plus the throughput."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--output", type=Path, help="write {id, story} JSON lines here")

    def handle(self, *args, file: Path, output: Path | None, **options) -> None:
        file, output = Path(file), Path(output) if output else None
        try:
            articles = read_articles(file)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}") from None
        except EvaluationInputError as exc:
            raise CommandError(f"{file}: {exc}") from None
        result = evaluate(articles)
        if output is not None:
            with output.open("w") as out:
                for item in articles:
                    key = item.article.key
                    out.write(json.dumps({"id": key, "story": result.stories[key]}) + "\n")
        stories = len(set(result.stories.values()))
        self.stdout.write(
            f"{len(articles)} articles → {stories} stories ({result.copies} copies); "
            f"window {settings.STORY_WINDOW_HOURS:g} h, threshold {scoring()[0]:g}"
        )
        if assumed := sum(item.assumed_utc for item in articles):
            self.stdout.write(f"{assumed} `published` times had no time zone: read as UTC.")
        if result.embedded is not None:
            e = result.embedded
            self.stdout.write(
                f"Embeddings: {settings.STORY_EMBEDDINGS_MODEL} at {settings.STORY_EMBEDDINGS_URL}, "
                f"weight {settings.STORY_EMBEDDINGS_WEIGHT:g}: vectors for {e.received} of {e.articles} "
                f"articles in {e.seconds:.1f} s ({e.texts_per_second:,.0f} texts/s)"
            )
        if result.scores is not None:
            s = result.scores
            self.stdout.write(f"B-cubed precision {s.precision:.3f}  recall {s.recall:.3f}  F1 {s.f1:.3f}")
        else:
            self.stdout.write("No gold `cluster` on every article: no scores.")
        self.stdout.write(
            f"Throughput: {result.articles_per_second:,.0f} articles/s "
            f"({result.seconds:.2f} s of CPU time on one core)"
        )
