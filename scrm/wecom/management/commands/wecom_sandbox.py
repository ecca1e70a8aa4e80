"""``manage.py wecom_sandbox``: run the fake WeCom in the foreground (``make run`` does)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from scrm.wecom.sandbox import SandboxConfig, SandboxServer


class Command(BaseCommand):
    help = "Run the WeCom sandbox: WeCom's API under /cgi-bin/, the control API under /sandbox/."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--callback-url", default="", help="the app's /wecom/callback/ URL")
        parser.add_argument(
            "--seed-staff", default="", help="comma-separated userids to create at start"
        )

    def handle(self, *args, **options):
        server = SandboxServer(
            SandboxConfig.from_settings(callback_url=options["callback_url"]),
            host=options["host"],
            port=options["port"],
        )
        if options["seed_staff"]:
            server.sandbox.seed_users(
                [{"userid": u} for u in options["seed_staff"].split(",") if u]
            )
        else:
            # The demo's staff exist in the fake corp too, so `make run` works end to end.
            from scrm.demo import DEMO_PEOPLE

            server.sandbox.seed_users(
                [{"userid": w, "name": n} for _u, n, _r, w, _b in DEMO_PEOPLE if w]
            )
        self.stdout.write(
            f"WeCom sandbox on {server.base_url} (callbacks to {options['callback_url'] or 'nowhere'})"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.httpd.server_close()
