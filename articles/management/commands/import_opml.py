"""Import feeds from an OPML file (the format every feed reader exports)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from articles.ingest.opml import opml_import, opml_read
from articles.ingest.parse import FeedError


class Command(BaseCommand):
    help = (
        "Add every feed in an OPML file (up to 5 MB); feeds already present keep their settings and only "
        "gain the topics their categories name. Never fetches."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="Path to the OPML file (e.g. articles/data/starter-sources.opml).")
        parser.add_argument(
            "--create-topics",
            action="store_true",
            help="Create a topic for each category that names none (default: list such categories).",
        )

    def handle(self, *args, file: str, create_topics: bool, **options) -> None:
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            with path.open("rb") as opml_file:
                report = opml_import(content=opml_read(opml_file), create_topics=create_topics)
        except FeedError as exc:
            raise CommandError(str(exc)) from exc
        for url in report.invalid:
            self.stderr.write(f"invalid: {url}")
        for slug in report.created_topics:
            self.stdout.write(f"created topic: {slug}")
        for name, count in report.unknown_categories.items():
            self.stdout.write(f"unknown category: {name} ({count} feeds)")
        if report.unknown_categories:
            self.stdout.write("rerun with --create-topics to create these topics and file their feeds")
        if report.tagged:
            self.stdout.write(f"topics added to {len(report.tagged)} feed(s) already present")
        self.stdout.write(
            f"added={len(report.added)} already_present={len(report.present)} invalid={len(report.invalid)}"
        )
