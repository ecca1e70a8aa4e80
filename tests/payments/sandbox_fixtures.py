"""The ``payment_sandbox`` fixture: a real-HTTP fake WeChat Pay per test session, reset per test."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest


class PaymentSandboxHandle:
    def __init__(self, server):
        self.server = server
        self.sandbox = server.sandbox

    @property
    def url(self) -> str:
        return self.server.base_url

    def control(self, action: str, **body: Any) -> dict:
        request = urllib.request.Request(  # noqa: S310
            f"{self.url}sandbox/{action}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())

    def state(self) -> dict:
        with urllib.request.urlopen(f"{self.url}sandbox/", timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def bills(self) -> list[dict]:
        with urllib.request.urlopen(f"{self.url}sandbox/bills", timeout=30) as response:  # noqa: S310
            return json.loads(response.read())["bills"]

    def fault(self, **fault: Any) -> None:
        self.control("faults", **fault)


@pytest.fixture(scope="session")
def _payment_sandbox_server():
    from scrm.payments.sandbox import PaymentSandboxConfig, PaymentSandboxServer

    server = PaymentSandboxServer(PaymentSandboxConfig.from_settings()).start()
    yield server
    server.stop()


@pytest.fixture
def payment_sandbox(_payment_sandbox_server, settings):
    """A fresh payment sandbox, the app's PAYMENTS_API_BASE pointed at it; a generous rate
    (tests about the rate set their own) and short waits so failure paths stay quick."""
    from scrm.payments.sandbox import PaymentSandboxConfig

    server = _payment_sandbox_server
    with server.sandbox.lock:
        server.sandbox.config = PaymentSandboxConfig.from_settings(rate_per_min=600_000)
        server.sandbox.reset()
    settings.PAYMENTS_API_BASE = server.base_url
    settings.PAYMENTS_RATE_PER_MIN = 600_000
    settings.PAYMENTS_HTTP_TIMEOUT_S = 1.0
    settings.PAYOUTS_RETRY_BASE_S = 1.0
    settings.PAYOUTS_RETRY_MAX_S = 4.0
    return PaymentSandboxHandle(server)
