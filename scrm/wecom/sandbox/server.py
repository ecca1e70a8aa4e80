"""The sandbox's HTTP face: WeCom's API under /cgi-bin/, the control API under /sandbox/.

A ``ThreadingHTTPServer`` that a pytest fixture starts in-process on a free
port, or ``manage.py wecom_sandbox`` runs in the foreground. Callbacks go out
encrypted and signed exactly as WeCom sends them, with WeCom's retries.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from scrm.core.httpserver import BackgroundHttpServer

from ..crypto import Keys, encrypt_event, event_xml
from .state import ApiError, Fault, Sandbox, SandboxConfig

logger = logging.getLogger(__name__)


class SandboxServer(BackgroundHttpServer):
    """Owns the HTTP server thread and the sandbox state."""

    thread_name = "wecom-sandbox"

    def __init__(self, config: SandboxConfig, *, host: str = "127.0.0.1", port: int = 0):
        self.sandbox = Sandbox(config)
        self.sandbox.emit = self.emit
        super().__init__(_Handler, host=host, port=port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/cgi-bin/"

    # ------------------------------------------------------------------ callbacks
    def emit(self, fields: dict, deliveries: int = 1, wait: bool = True) -> list[list[Any]]:
        """Send one event ``deliveries`` times (WeCom's retries after a lost answer).

        Each delivery is retried (up to ``callback_retries``) while the app does
        not answer 200 within ``callback_timeout_s``. Returns, per delivery, the
        HTTP status (or error) of every attempt.
        """
        url = self.sandbox.config.callback_url
        if not url:
            return []
        if not wait:
            threading.Thread(
                target=self._deliver_all, args=(url, fields, deliveries), daemon=True
            ).start()
            return []
        return self._deliver_all(url, fields, deliveries)

    def _deliver_all(self, url: str, fields: dict, deliveries: int) -> list[list[Any]]:
        return [self._deliver(url, fields) for _ in range(max(1, deliveries))]

    def _deliver(self, url: str, fields: dict) -> list[Any]:
        cfg = self.sandbox.config
        keys = Keys(cfg.token, cfg.aes_key, cfg.corp_id)
        plaintext = event_xml(fields)
        attempts: list[Any] = []
        for attempt in range(1 + max(0, cfg.callback_retries)):
            if attempt:
                time.sleep(cfg.callback_retry_interval_s)
            query, body = encrypt_event(keys, plaintext, agent_id=cfg.agent_id)
            sep = "&" if urlsplit(url).query else "?"
            request = urllib.request.Request(  # noqa: S310 - the configured callback URL
                f"{url}{sep}{urlencode(query)}",
                data=body,
                method="POST",
                headers={"Content-Type": "text/xml"},
            )
            outcome: Any
            try:
                with urllib.request.urlopen(request, timeout=cfg.callback_timeout_s) as response:  # noqa: S310 - the configured app URL
                    outcome = response.status
            except urllib.error.HTTPError as exc:
                outcome = exc.code
            except Exception as exc:  # timeout, refused: WeCom retries
                outcome = type(exc).__name__
            attempts.append(outcome)
            with self.sandbox.lock:
                self.sandbox.state.callbacks.append(
                    {
                        "event": fields.get("Event"),
                        "change_type": fields.get("ChangeType"),
                        "attempt": attempt + 1,
                        "outcome": outcome,
                        "at": time.time(),
                    }
                )
            if outcome == 200:
                break
        return attempts

    # ------------------------------------------------------------------ control API
    def control(self, method: str, action: str, body: dict) -> tuple[int, dict]:
        sb = self.sandbox
        try:
            if method == "GET" and action in ("", "state"):
                return 200, sb.snapshot()
            if method == "GET" and action == "calls":
                with sb.lock:
                    return 200, {"calls": list(sb.state.calls)}
            if method != "POST":
                return 405, {"error": "use POST"}
            if action == "reset":
                sb.reset(**body)
                return 200, {"ok": True}
            if action == "config":
                with sb.lock:
                    for key, value in body.items():
                        if hasattr(sb.config, key):
                            setattr(sb.config, key, type(getattr(sb.config, key))(value))
                    return 200, asdict(sb.config)
            if action == "staff":
                return 200, {"userids": sb.seed_users(body.get("users") or [])}
            if action == "customers":
                return 200, {"external_userids": sb.seed_customers(body.get("customers") or [])}
            if action == "faults":
                with sb.lock:
                    fault = Fault(
                        errcode=body.get("errcode"),
                        http_status=body.get("http_status"),
                        latency_ms=int(body.get("latency_ms") or 0),
                        timeout_s=float(body.get("timeout_s") or 0),
                        times=int(body.get("times", 1)),
                        answer=body.get("answer"),
                    )
                    sb.state.faults.setdefault(body.get("endpoint") or "*", []).append(fault)
                return 200, {"ok": True}
            if action == "faults/clear":
                with sb.lock:
                    sb.state.faults.clear()
                return 200, {"ok": True}
            if action == "tokens/expire":
                with sb.lock:
                    sb.state.tokens = {t: 0.0 for t in sb.state.tokens}
                return 200, {"ok": True}
            if action == "oauth_code":
                return 200, sb.act_oauth_code(body)
            if action == "scan":
                return 200, sb.act_scan(body)
            if action == "join_group":
                return 200, sb.act_join_group(body)
            if action == "leave_group":
                return 200, sb.act_leave_group(body)
            if action == "group_create":
                return 200, sb.act_group_create(body)
            if action == "customer_deletes_staff":
                return 200, sb.act_follow_end(body, by_customer=True)
            if action == "staff_deletes_customer":
                return 200, sb.act_follow_end(body, by_customer=False)
            if action == "confirm_mass_message":
                return 200, sb.act_confirm_mass_message(body)
            if action == "staff_leave":
                return 200, sb.act_staff_leave(body)
            if action == "transfer_respond":
                from .transfers import act_transfer_respond

                events = act_transfer_respond(sb, body)
                deliveries = int(body.get("deliveries", 1))
                wait = bool(body.get("wait", True))
                return 200, {"deliveries": [self.emit(f, deliveries, wait) for f in events]}
            if action == "group_message":
                return 200, sb.act_group_message(body)
            if action == "callback":
                fields = {
                    "ToUserName": sb.config.corp_id,
                    "FromUserName": "sys",
                    "CreateTime": str(int(time.time())),
                    "MsgType": "event",
                    **(body.get("fields") or {}),
                }
                return 200, {
                    "deliveries": self.emit(
                        fields, int(body.get("deliveries", 1)), bool(body.get("wait", True))
                    )
                }
            return 404, {"error": f"unknown action {action!r}"}
        except ApiError as exc:
            return 400, {"errcode": exc.errcode, "errmsg": exc.errmsg}
        except (KeyError, TypeError, ValueError) as exc:
            return 400, {"error": f"bad request: {type(exc).__name__}: {exc}"}


class _Handler(BaseHTTPRequestHandler):
    server_ref: SandboxServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without TCP_NODELAY each answer waits
    # for the client's delayed ACK (about 40 ms) before its body is sent.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("sandbox %s", format % args)

    def _send(
        self,
        status: int,
        payload: dict | str,
        content_type: str = "application/json; charset=utf-8",
    ) -> None:
        data = (
            payload.encode()
            if isinstance(payload, str)
            else json.dumps(payload, ensure_ascii=False).encode()
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            return {"__invalid_json__": True}
        return value if isinstance(value, dict) else {}

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        body = self._body() if method == "POST" else {}
        path = parts.path
        if path.startswith("/cgi-bin/"):
            self._api(path[len("/cgi-bin/") :].strip("/"), query, body)
        elif path.rstrip("/") == "/sandbox" or path.startswith("/sandbox/"):
            status, payload = self.server_ref.control(
                method, path[len("/sandbox") :].strip("/"), body
            )
            self._send(status, payload)
        else:
            self._send(404, {"error": "not found"})

    def _api(self, endpoint: str, query: dict, body: dict) -> None:
        sandbox = self.server_ref.sandbox
        fault = sandbox.fault_for(endpoint)
        if fault is not None:
            if fault.latency_ms:
                time.sleep(fault.latency_ms / 1000)
            if fault.timeout_s:
                time.sleep(fault.timeout_s)  # longer than the client waits: a timeout there
            if fault.http_status:
                self._send(fault.http_status, "<html>upstream error</html>", "text/html")
                return
            if fault.answer is not None:
                with sandbox.lock:
                    sandbox.state.calls.append(
                        {"endpoint": endpoint, "errcode": 0, "at": time.time(), "fault": True}
                    )
                self._send(200, {"errcode": 0, "errmsg": "ok", **fault.answer})
                return
            if fault.errcode is not None:
                with sandbox.lock:
                    sandbox.state.calls.append(
                        {
                            "endpoint": endpoint,
                            "errcode": fault.errcode,
                            "at": time.time(),
                            "fault": True,
                        }
                    )
                self._send(
                    200,
                    {
                        "errcode": fault.errcode,
                        "errmsg": f"injected fault, hint: [sandbox] errcode {fault.errcode}",
                    },
                )
                return
        if body.get("__invalid_json__"):
            self._send(200, {"errcode": 47001, "errmsg": "data format error"})
            return
        self._send(200, sandbox.api(endpoint, query, body))
