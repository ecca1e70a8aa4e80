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
        parser.add_argument(
            "--confirm-mass-removal",
            action="store_true",
            help="end what WeCom no longer has even when it is a large share (after checking "
            "that WeCom's answer is right: secret, permissions, trusted IP)",
        )

    def handle(self, *args, **options):
        with triggered_by("command:wecom_sync"):
            report = wecom_sync_all(confirm_mass_removal=options["confirm_mass_removal"])
        if options["json"]:
            payload = report.as_dict()
            if report.held is not None:
                payload = {**payload, "held": report.held.reason, "hold_id": report.held.hold_id}
            self.stdout.write(json.dumps(payload, ensure_ascii=False))
        else:
            self.stdout.write(f"wecom_sync: {report}")
        if report.held is not None:
            self.stderr.write(
                "wecom_sync: nothing was ended. Check the WeCom secret and the app's "
                "customer-contact permission, then run wecom_sync --confirm-mass-removal "
                "(or confirm the hold in the admin)."
            )
