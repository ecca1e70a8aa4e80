"""The sandbox's core: config, state, faults and the request dispatch every API area shares.

All state lives in one object guarded by one lock; the HTTP layer only parses
requests and serialises answers. Errcodes and messages follow WeCom's. The API
areas (one module each) add their endpoints as mixins of ``SandboxBase``;
``state`` assembles them into ``Sandbox`` and the full endpoint table. An area
reaches another's helpers (``self._user``, ``self._chat``, ``self._contact_event``)
through ``self``: they meet in ``Sandbox``.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar


class ApiError(Exception):
    def __init__(self, errcode: int, errmsg: str):
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass
class SandboxConfig:
    corp_id: str = "ww_demo_corp"
    secret: str = "demo-contact-secret"  # noqa: S105 - demo values; from_settings() overrides them
    token: str = "demoToken"  # noqa: S105 - demo values; from_settings() overrides them
    aes_key: str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    agent_id: str = "1000002"
    callback_url: str = ""
    token_ttl_s: int = 7200
    welcome_code_ttl_s: float = 20.0
    group_max: int = 500
    group_qr_max: int = 200
    # 0: as many corp mass messages a month as the month has days (WeCom's current rule).
    mass_msg_per_month: int = 0
    corp_tag_max: int = 3000
    callback_timeout_s: float = 5.0
    callback_retries: int = 3
    callback_retry_interval_s: float = 1.0

    @classmethod
    def from_settings(cls, **overrides: Any) -> SandboxConfig:
        from django.conf import settings

        values = dict(
            corp_id=settings.WECOM_CORP_ID,
            secret=settings.WECOM_SECRET,
            token=settings.WECOM_TOKEN,
            aes_key=settings.WECOM_AES_KEY,
            agent_id=str(settings.WECOM_AGENT_ID),
            token_ttl_s=settings.WECOM_SANDBOX_TOKEN_TTL_S,
            welcome_code_ttl_s=settings.WECOM_SANDBOX_WELCOME_CODE_TTL_S,
            group_max=settings.WECOM_SANDBOX_GROUP_MAX,
            group_qr_max=settings.WECOM_SANDBOX_GROUP_QR_MAX,
            mass_msg_per_month=settings.WECOM_SANDBOX_MASS_MSG_PER_MONTH,
            corp_tag_max=settings.WECOM_SANDBOX_CORP_TAG_MAX,
            callback_timeout_s=settings.WECOM_SANDBOX_CALLBACK_TIMEOUT_S,
            callback_retries=settings.WECOM_SANDBOX_CALLBACK_RETRIES,
            callback_retry_interval_s=settings.WECOM_SANDBOX_CALLBACK_RETRY_INTERVAL_S,
        )
        values.update(overrides)
        return cls(**values)


def _id(prefix: str, n: int = 16) -> str:
    return prefix + secrets.token_hex(n // 2)


@dataclass
class Fault:
    """One injected failure for an endpoint (``times`` calls, or -1 for until cleared)."""

    errcode: int | None = None
    http_status: int | None = None
    latency_ms: int = 0
    timeout_s: float = 0.0
    times: int = 1
    # An answer that succeeds with these fields instead (e.g. ``{"follow_user": []}``:
    # WeCom answering empty lists, as with a wrong secret or missing permission).
    answer: dict | None = None


@dataclass
class State:
    tokens: dict[str, float] = field(default_factory=dict)
    users: dict[str, dict] = field(default_factory=dict)
    customers: dict[str, dict] = field(default_factory=dict)
    # (external_userid, userid) → follow info (WeCom's follow_user item + "tag_ids", "active")
    follows: dict[tuple[str, str], dict] = field(default_factory=dict)
    contact_ways: dict[str, dict] = field(default_factory=dict)
    welcome_codes: dict[str, dict] = field(default_factory=dict)
    welcome_sent: list[dict] = field(default_factory=list)
    tag_groups: dict[str, dict] = field(default_factory=dict)
    tags: dict[str, dict] = field(default_factory=dict)
    tag_marks: list[dict] = field(default_factory=list)
    chats: dict[str, dict] = field(default_factory=dict)
    join_ways: dict[str, dict] = field(default_factory=dict)
    msgs: dict[str, dict] = field(default_factory=dict)
    # (target id, "YYYY-MM") → corp mass messages received that month
    mass_received: dict[tuple[str, str], int] = field(default_factory=dict)
    oauth_codes: dict[str, str] = field(default_factory=dict)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    calls: list[dict] = field(default_factory=list)
    callbacks: list[dict] = field(default_factory=list)
    seq: int = 0
    group_welcome_templates: dict[str, dict] = field(default_factory=dict)
    # Messages said in customer groups: {"chat_id", "userid", "count", "at"} (statistics).
    chat_messages: list[dict] = field(default_factory=list)


# Endpoints that answer without a token.
NO_TOKEN = {"gettoken"}

# One endpoint's handler: (sandbox, query, body) → the answer's fields.
Handler = Callable[[Any, dict, dict], dict]


class SandboxBase:
    """Locking, tokens, faults, callbacks and dispatch; the API areas add the endpoints."""

    # Endpoint path → handler, for ``api()``: the full table, set by ``state.Sandbox``.
    endpoints: ClassVar[dict[str, Handler]] = {}

    def __init__(self, config: SandboxConfig):
        self.config = config
        self.lock = threading.RLock()
        self.state = State()
        # Set by the server: sends one event to the app (fields → list of HTTP statuses).
        self.emit: Callable[[dict, int, bool], list] = lambda fields, deliveries, wait: []

    def reset(self, **config: Any) -> None:
        with self.lock:
            self.state = State()
            for key, value in config.items():
                if hasattr(self.config, key):
                    setattr(self.config, key, type(getattr(self.config, key))(value))

    def _next(self) -> int:
        self.state.seq += 1
        return self.state.seq

    # ------------------------------------------------------------------ faults
    def fault_for(self, endpoint: str) -> Fault | None:
        with self.lock:
            queue = self.state.faults.get(endpoint) or self.state.faults.get("*")
            if not queue:
                return None
            fault = queue[0]
            if fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    queue.pop(0)
            return fault

    # ------------------------------------------------------------------ the API
    def api(self, endpoint: str, query: dict[str, str], body: dict) -> dict:
        with self.lock:
            try:
                if endpoint not in NO_TOKEN:
                    self._check_token(query.get("access_token", ""))
                handler = self.endpoints.get(endpoint)
                if handler is None:
                    raise ApiError(40058, f"sandbox does not know {endpoint}")
                result = handler(self, query, body) or {}
                answer = {"errcode": 0, "errmsg": "ok", **result}
            except ApiError as exc:
                answer = {
                    "errcode": exc.errcode,
                    "errmsg": f"{exc.errmsg}, hint: [sandbox], more info at https://open.work.weixin.qq.com/devtool/query?e={exc.errcode}",
                }
            self.state.calls.append(
                {"endpoint": endpoint, "errcode": answer["errcode"], "at": time.time()}
            )
            return answer

    def _check_token(self, token: str) -> None:
        if not token:
            raise ApiError(41001, "access_token missing")
        expires = self.state.tokens.get(token)
        if expires is None:
            raise ApiError(40014, "invalid access_token")
        if expires < time.time():
            raise ApiError(42001, "access_token expired")

    def gettoken(self, q: dict, b: dict) -> dict:
        if q.get("corpid") != self.config.corp_id:
            raise ApiError(40013, "invalid corpid")
        if q.get("corpsecret") != self.config.secret:
            raise ApiError(40001, "invalid credential")
        now = time.time()
        for token, expires in self.state.tokens.items():
            if expires > now:  # a repeat fetch within validity returns the same token
                return {"access_token": token, "expires_in": int(expires - now)}
        token = secrets.token_urlsafe(48)
        self.state.tokens[token] = now + self.config.token_ttl_s
        return {"access_token": token, "expires_in": self.config.token_ttl_s}


API: dict[str, Handler] = {
    "gettoken": SandboxBase.gettoken,
}
