"""The payment sandbox's HTTP face: WeChat Pay's XML API, and a JSON control API under /sandbox/.

- ``POST /mmpaymkttransfers/sendworkwxredpack``, ``POST /mmpaymkttransfers/queryworkwxredpack``
- ``GET /sandbox/`` (summary), ``GET /sandbox/bills`` (every bill), ``POST /sandbox/reset``,
  ``/sandbox/config`` (e.g. ``{"rate_per_min": 6000}``), ``/sandbox/faults``
  (``{"err_code": "SYSTEMERROR", "times": 2}``, ``{"timeout_s": 3, "after_pay": true}``),
  ``/sandbox/faults/clear``, ``/sandbox/receive`` (``{"bill_no": …}``).
"""

from __future__ import annotations

import json
import logging
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from scrm.core.httpserver import BackgroundHttpServer

from .state import PaymentSandbox, PaymentSandboxConfig

logger = logging.getLogger(__name__)


class PaymentSandboxServer(BackgroundHttpServer):
    thread_name = "payments-sandbox"

    def __init__(self, config: PaymentSandboxConfig, *, host: str = "127.0.0.1", port: int = 0):
        self.sandbox = PaymentSandbox(config)
        super().__init__(_Handler, host=host, port=port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def control(self, method: str, action: str, body: dict) -> tuple[int, dict]:
        sb = self.sandbox
        try:
            if method == "GET" and action in ("", "state"):
                return 200, sb.snapshot()
            if method == "GET" and action == "bills":
                return 200, {"bills": sb.snapshot(bills=True)["bill_list"]}
            if method != "POST":
                return 405, {"error": "use POST"}
            if action == "reset":
                sb.reset(**body)
                return 200, {"ok": True}
            if action == "config":
                return 200, sb.configure(**body)
            if action == "faults":
                sb.fault_add(**body)
                return 200, {"ok": True}
            if action == "faults/clear":
                with sb.lock:
                    sb.state.faults.clear()
                return 200, {"ok": True}
            if action == "receive":
                return 200, sb.receive(str(body["bill_no"]))
            return 404, {"error": f"unknown action {action!r}"}
        except (KeyError, TypeError, ValueError) as exc:
            return 400, {"error": f"bad request: {type(exc).__name__}: {exc}"}


class _Handler(BaseHTTPRequestHandler):
    server_ref: PaymentSandboxServer
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes: without this, each answer waits for the client's
    # delayed ACK (~40 ms) and a sequential client gets 20 answers a second.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("payments sandbox %s", format % args)

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout fault)

    def _raw(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        raw = self._raw() if method == "POST" else b""
        sandbox = self.server_ref.sandbox
        if path.rstrip("/") == "/sandbox" or path.startswith("/sandbox/"):
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = None
            if not isinstance(body, dict):
                status, payload = 400, {"error": "body must be a JSON object"}
            else:
                status, payload = self.server_ref.control(
                    method, path[len("/sandbox") :].strip("/"), body
                )
            self._send(
                status,
                json.dumps(payload, ensure_ascii=False).encode(),
                "application/json; charset=utf-8",
            )
            return
        if method != "POST":
            self._send(405, b"<xml><return_code>FAIL</return_code></xml>", "text/xml")
            return
        if path == "/mmpaymkttransfers/sendworkwxredpack":
            answer, delay = sandbox.send(raw)
        elif path == "/mmpaymkttransfers/queryworkwxredpack":
            answer, delay = sandbox.query(raw)
        else:
            self._send(404, b"<html>not found</html>", "text/html")
            return
        wait = delay + sandbox.config.latency_ms / 1000
        if wait:
            time.sleep(wait)  # outside the lock: a slow answer holds up nobody else
        self._send(200, answer, "text/xml; charset=utf-8")
