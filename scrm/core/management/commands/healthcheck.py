"""Exit 0 when the named parts are healthy (for container health checks)."""

import json

from django.core.management.base import BaseCommand, CommandError

from scrm.core.health import CHECKS, system_health


class Command(BaseCommand):
    help = "Check database, redis, worker and beat; exit non-zero when any named check fails."

    def add_arguments(self, parser):
        parser.add_argument(
            "--only", default="", help=f"comma-separated subset of: {', '.join(CHECKS)}"
        )

    def handle(self, *args, only, **options):
        names = [n for n in only.split(",") if n]
        unknown = set(names) - set(CHECKS)
        if unknown:
            raise CommandError(f"unknown checks: {', '.join(sorted(unknown))}")
        healthy, results = system_health(names or None)
        self.stdout.write(json.dumps(results, ensure_ascii=False))
        if not healthy:
            raise CommandError("unhealthy")
