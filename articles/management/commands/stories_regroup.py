"""Group existing articles into stories again: `manage.py stories_regroup [--since DAYS]`.

Run once after the migration that gave every article a story of its own, or after changing
STORY_SIMILARITY_THRESHOLD / STORY_WINDOW_HOURS. Editors' decisions are kept (see
articles.stories.services.stories_regroup); running it twice changes nothing the second time.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from articles.stories import services


class Command(BaseCommand):
    help = "Re-group existing articles into stories in publication order, keeping editors' decisions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since", type=float, default=None, help="only articles published in the last DAYS days"
        )
        parser.add_argument(
            "--batch-size", type=int, default=200, help="articles per transaction (holds the grouping lock)"
        )

    def handle(self, *args, **options) -> None:
        since = None
        if options["since"] is not None:
            if options["since"] <= 0:
                raise CommandError("--since takes a positive number of days.")
            since = timezone.now() - timedelta(days=options["since"])
        if options["batch_size"] < 1:
            raise CommandError("--batch-size takes a positive number.")
        outcome = services.stories_regroup(
            since=since, batch_size=options["batch_size"], progress=self.stdout.write
        )
        self.stdout.write(
            f"Re-grouped {outcome.articles} articles into {outcome.stories} stories: "
            f"{outcome.moved} moved, {outcome.copies} copies, {outcome.removed} empty stories removed, "
            f"{outcome.pinned} left where editors put them."
        )
