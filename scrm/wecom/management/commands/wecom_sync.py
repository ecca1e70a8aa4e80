"""``manage.py wecom_sync``: reconcile the database with WeCom now and print what changed."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from scrm.wecom.client import triggered_by
from scrm.wecom.sync import wecom_sync_all


class Command(BaseCommand):
    help = "Pull staff, customers, follow relations, groups and corp tags from WeCom and reconcile."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **options):
        with triggered_by("command:wecom_sync"):
            report = wecom_sync_all()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
        else:
            self.stdout.write(f"wecom_sync: {report}")
