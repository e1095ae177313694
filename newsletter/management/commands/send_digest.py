from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser

from newsletter import services
from newsletter.models import Subscriber


class Command(BaseCommand):
    help = (
        "Send the daily digest now. Without --date: to subscribers whose send hour has come "
        "(what the beat does). With --date: to every confirmed subscriber with no delivery for "
        "that date. Never sends anyone the same date twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="digest date, YYYY-MM-DD")
        parser.add_argument("--dry-run", action="store_true", help="count, send nothing")

    def handle(self, *args, **options) -> None:
        day = None
        if options["date"]:
            try:
                day = dt.date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"--date must be YYYY-MM-DD, not {options['date']!r}.") from exc
        report, due = services.digest_send_now(day=day, dry_run=options["dry_run"])
        verb = "would send" if options["dry_run"] else "sent"
        for channel in Subscriber.Channel.values:
            if options["dry_run"]:
                line = f"{channel}: {verb} {due[channel]}"
            else:
                line = (
                    f"{channel}: {verb} {report.sent[channel]}, skipped {report.skipped[channel]} "
                    f"(nothing new), failed {report.failed[channel]}"
                )
            self.stdout.write(line)
        total = sum(due.values()) if options["dry_run"] else sum(report.sent.values())
        self.stdout.write(f"total: {verb} {total}")
