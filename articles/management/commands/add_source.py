"""Add a feed as a source, after fetching it once to prove it is one."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from articles.ingest.sources import SourceInvalid, source_add


class Command(BaseCommand):
    help = "Fetch FEED_URL once to validate it, then store it as a source."

    def add_arguments(self, parser) -> None:
        parser.add_argument("feed_url")
        parser.add_argument("--name", default="", help="Display name (default: the feed's title).")
        parser.add_argument(
            "--topic", action="append", default=[], dest="topics", help="Topic slug; repeat for several."
        )

    def handle(self, *args, feed_url: str, name: str, topics: list[str], **options) -> None:
        try:
            source = source_add(feed_url=feed_url, name=name, topic_slugs=topics)
        except SourceInvalid as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Added source {source.pk}: {source.name} <{source.feed_url}>"))
