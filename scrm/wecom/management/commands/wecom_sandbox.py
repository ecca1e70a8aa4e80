"""``manage.py wecom_sandbox``: run the fake WeCom in the foreground (``make run`` does)."""

from __future__ import annotations

import signal
from pathlib import Path

from django.core.management.base import BaseCommand

from scrm.wecom.sandbox import SandboxConfig, SandboxServer
from scrm.wecom.sandbox.persist import StateFile


class Command(BaseCommand):
    help = "Run the WeCom sandbox: WeCom's API under /cgi-bin/, the control API under /sandbox/."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--callback-url", default="", help="the app's /wecom/callback/ URL")
        parser.add_argument(
            "--seed-staff", default="", help="comma-separated userids to create at start"
        )
        parser.add_argument(
            "--state-file",
            default="",
            help="keep the fake corp in this JSON file across restarts (make run: var/sandbox/)",
        )

    def handle(self, *args, **options):
        server = SandboxServer(
            SandboxConfig.from_settings(callback_url=options["callback_url"]),
            host=options["host"],
            port=options["port"],
        )
        state_file = None
        if options["state_file"]:
            state_file = StateFile(server.sandbox, Path(options["state_file"]))
            if state_file.load():
                snap = server.sandbox.state
                self.stdout.write(
                    f"WeCom sandbox state loaded from {state_file.path}: "
                    f"{len(snap.users)} staff, {len(snap.customers)} customers, "
                    f"{len(snap.chats)} groups"
                )
            state_file.start()
        if options["seed_staff"]:
            server.sandbox.seed_users(
                [{"userid": u} for u in options["seed_staff"].split(",") if u]
            )
        self.stdout.write(
            f"WeCom sandbox on {server.base_url} (callbacks to {options['callback_url'] or 'nowhere'})"
        )

        def stop(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.httpd.server_close()
            if state_file is not None:
                state_file.stop()
