"""Import feeds from an OPML file (the format every feed reader exports)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from articles.ingest.opml import opml_import
from articles.ingest.parse import FeedError


class Command(BaseCommand):
    help = "Add every feed in an OPML file; feeds already present are left alone. Never fetches."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="Path to the OPML file (e.g. articles/data/starter-sources.opml).")

    def handle(self, *args, file: str, **options) -> None:
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            report = opml_import(content=path.read_bytes())
        except FeedError as exc:
            raise CommandError(str(exc)) from exc
        for url in report.invalid:
            self.stderr.write(f"invalid: {url}")
        self.stdout.write(
            f"added={len(report.added)} already_present={len(report.present)} invalid={len(report.invalid)}"
        )
