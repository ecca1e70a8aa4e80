"""Delete audit records past retention; refuses anything younger than six months (D14)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from scrm.core.audit import audit_purge, audit_retention_days
from scrm.core.errors import DomainError


class Command(BaseCommand):
    help = "Delete audit records older than --older-than-days (at least the retention floor)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=int, default=None)

    def handle(self, *args, older_than_days=None, **options):
        days = audit_retention_days() if older_than_days is None else older_than_days
        try:
            deleted = audit_purge(older_than_days=days)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"deleted {deleted} audit records older than {days} days")
