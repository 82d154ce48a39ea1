"""`manage.py export_audit [--month YYYY-MM]`: one month of the audit log to storage."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.exceptions import ValidationError
from exports.audit_log import export_audit_log


class Command(BaseCommand):
    help = (
        "Write one month of the audit log to storage as gzip-compressed JSON lines "
        "(by default the month before this one) and print the storage key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", help="The month to export, as YYYY-MM (UTC).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            key = export_audit_log(month=options["month"])
        except ValidationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(key)
