"""Print every source as OPML 2.0."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from articles.ingest.opml import opml_export


class Command(BaseCommand):
    help = "Write all sources as OPML 2.0 to standard output."

    def handle(self, *args, **options) -> None:
        self.stdout.write(opml_export(), ending="")
