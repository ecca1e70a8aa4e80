"""``manage.py payments_sandbox``: run the fake WeChat Pay in the foreground (``make run`` does)."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from scrm.payments.sandbox import PaymentSandboxConfig, PaymentSandboxServer


class Command(BaseCommand):
    help = "Run the payment sandbox: WeChat Pay's red-packet API, the control API under /sandbox/."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8766)
        parser.add_argument("--rate-per-min", type=int, default=0, help="calls a minute allowed")

    def handle(self, *args, **options):
        overrides = {}
        if options["rate_per_min"]:
            overrides["rate_per_min"] = options["rate_per_min"]
        server = PaymentSandboxServer(
            PaymentSandboxConfig.from_settings(**overrides),
            host=options["host"],
            port=options["port"],
        )
        self.stdout.write(
            f"Payment sandbox on {server.base_url} "
            f"({server.sandbox.config.rate_per_min} calls a minute)"
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
