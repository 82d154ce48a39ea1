"""`manage.py sweep_orphans [--temporary-only]`: the hourly orphan sweep, run by hand or by a
web host's own scheduler."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from operations import orphans


class Command(BaseCommand):
    help = (
        "Remove temporary uploads and stored files that nothing refers to, older than "
        "ORPHAN_MIN_AGE_SECONDS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--temporary-only",
            action="store_true",
            help="Only this host's temporary uploads (for hosts that run only web processes).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = orphans.sweep_orphans(temporary_only=options["temporary_only"])
        self.stdout.write(
            f"Removed {report.stored_removed} stored files and {report.temporary_removed} "
            f"temporary uploads; {report.failed} could not be removed."
        )
