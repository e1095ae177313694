"""Poll sources now, in this process: the due ones, one by id, or all of them."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from articles.ingest.polling import source_poll
from articles.ingest.tasks import extract_article
from articles.models import Source


class Command(BaseCommand):
    help = "Poll due sources (or --source ID, or --all) synchronously and print what happened."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--source", type=int, action="append", dest="source_ids", help="Source id; repeatable."
        )
        parser.add_argument("--all", action="store_true", help="Poll every active source, due or not.")
        parser.add_argument(
            "--no-extract", action="store_true", help="Store new articles without queueing their extraction."
        )

    def handle(self, *args, source_ids: list[int] | None, all: bool, no_extract: bool, **options) -> None:
        if source_ids:
            sources = list(Source.objects.filter(pk__in=source_ids))
            missing = set(source_ids) - {s.pk for s in sources}
            if missing:
                raise CommandError(f"No source with id {', '.join(map(str, sorted(missing)))}.")
        elif all:
            sources = list(Source.objects.active())
        else:
            sources = list(Source.objects.due())
        totals = {"fetched": 0, "new": 0, "duplicate": 0, "failed": 0}
        for source in sources:
            result = source_poll(source=source)
            if result.failed:
                totals["failed"] += 1
                detail = f"failed {result.error_class}: {result.error[:200]}"
            else:
                totals["fetched"] += 1
                detail = f"{result.outcome} found={result.entries_found}"
            totals["new"] += result.new
            totals["duplicate"] += result.duplicate
            self.stdout.write(
                f"[{source.pk}] {source.name}: {detail} new={result.new} duplicate={result.duplicate}"
            )
            if not no_extract:
                for article_id in result.new_article_ids:
                    extract_article.delay_on_commit(article_id)
        self.stdout.write(" ".join(f"{k}={v}" for k, v in totals.items()))
