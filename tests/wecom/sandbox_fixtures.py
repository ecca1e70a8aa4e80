"""The ``wecom_sandbox`` fixture: a real-HTTP fake WeCom per test session, reset per test.

Imported by tests/conftest.py so every app's tests can use it.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest


class SandboxHandle:
    """What a test holds: the server, its state, and the control API over HTTP."""

    def __init__(self, server):
        self.server = server
        self.sandbox = server.sandbox

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def api_base(self) -> str:
        return self.server.api_base

    def control(self, action: str, **body: Any) -> dict:
        request = urllib.request.Request(  # noqa: S310
            f"{self.url}/sandbox/{action}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"sandbox {action}: {exc.code} {exc.read()[:300]!r}") from exc

    def state(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/sandbox/state", timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def seed_staff(self, *userids: str) -> None:
        self.control("staff", users=[{"userid": u, "name": u} for u in userids])

    def fault(self, endpoint: str, **fault: Any) -> None:
        self.control("faults", endpoint=endpoint, **fault)

    def calls(self, endpoint: str | None = None) -> list[dict]:
        with self.sandbox.lock:
            return [
                c for c in self.sandbox.state.calls if endpoint is None or c["endpoint"] == endpoint
            ]


@pytest.fixture(scope="session")
def _wecom_sandbox_server():
    from scrm.wecom.sandbox import SandboxConfig, SandboxServer

    server = SandboxServer(SandboxConfig.from_settings()).start()
    yield server
    server.stop()


@pytest.fixture
def wecom_sandbox(_wecom_sandbox_server, settings):
    """A fresh sandbox for this test, with the app's WECOM_API_BASE pointed at it."""
    from scrm.wecom.sandbox import SandboxConfig

    server = _wecom_sandbox_server
    with server.sandbox.lock:
        server.sandbox.config = SandboxConfig.from_settings(callback_retry_interval_s=0.2)
        server.sandbox.reset()
    settings.WECOM_API_BASE = server.api_base
    # Fast retries so failure paths stay quick in tests (the logic is the same).
    settings.WECOM_RETRY_BASE_S = 0.02
    settings.WECOM_RETRY_MAX_S = 0.2
    settings.WECOM_RATE_BLOCK_S = 0.3
    return SandboxHandle(server)
