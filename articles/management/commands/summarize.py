"""Summarise articles now, in this process: `manage.py summarize --pending --limit 20`."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from articles.models import Article
from articles.summarizers import workflow


class Command(BaseCommand):
    help = "Summarise articles synchronously and print each outcome with tokens and cost."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--article", type=int, action="append", help="article id (repeatable)")
        parser.add_argument("--pending", action="store_true", help="every article waiting in 'extracted'")
        parser.add_argument("--limit", type=int, default=None, help="at most this many articles")
        parser.add_argument("--backend", choices=["anthropic", "openai_compat", "extractive"], default=None)
        parser.add_argument("--force", action="store_true", help="make a new version even if unchanged")

    def handle(self, *args, **options) -> None:
        if not (options["article"] or options["pending"]):
            raise CommandError("Give --article ID or --pending.")
        ids: list[int] = list(options["article"] or [])
        if options["pending"]:
            ids += list(
                Article.objects.due_for_summary().order_by("published_at").values_list("pk", flat=True)
            )
        if not ids:
            self.stdout.write("Nothing is waiting for a summary.")
            return
        if options["limit"] is not None:
            ids = ids[: options["limit"]]
        total_cost = 0
        for article_id in ids:
            outcome = self._summarize(article_id, backend=options["backend"], force=options["force"])
            total_cost += outcome.cost_usd
            u = outcome.usage
            self.stdout.write(
                f"article {article_id}: {outcome.result}"
                + (f" ({outcome.detail})" if outcome.detail else "")
                + f" | tokens in={u.input_tokens} out={u.output_tokens}"
                f" cache_write={u.cache_write_tokens} cache_read={u.cache_read_tokens}"
                f" | ${outcome.cost_usd}"
            )
        self.stdout.write(f"{len(ids)} article(s), total ${total_cost}")

    def _summarize(self, article_id: int, *, backend: str | None, force: bool) -> workflow.SummarizeOutcome:
        # The same retry policy as the task, but waiting in-process: the operator asked for now.
        for attempt in range(1, settings.SUMMARY_MAX_ATTEMPTS + 1):
            try:
                return workflow.article_summarize(
                    article_id=article_id,
                    backend=backend,
                    force=force,
                    allow_batch=False,
                    final_attempt=attempt >= settings.SUMMARY_MAX_ATTEMPTS,
                )
            except workflow.SummaryTemporaryError as exc:
                delay = workflow.retry_delay(attempt, exc.retry_after)
                self.stderr.write(f"article {article_id}: {exc.reason}; retrying in {delay:.0f} s")
                time.sleep(delay)
        raise AssertionError("unreachable: the final attempt never raises SummaryTemporaryError")
