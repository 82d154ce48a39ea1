"""`manage.py expire_audio [--dry-run]`: the daily retention job, run by hand."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from operations import retention


class Command(BaseCommand):
    help = (
        "Warn owners by email about audio that expires soon, then mark audio past its "
        "retention expired and delete its files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count what would be warned about and expired; send and change nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = retention.run_retention(dry_run=options["dry_run"])
        self.stdout.write(retention.describe(report))
