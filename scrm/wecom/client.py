"""The one HTTP chokepoint to WeCom, on wechatpy's enterprise client.

Every call passes :meth:`WeComClient._request`: corp-wide rate limit, the shared
access token (Redis, refreshed once under a lock), errcode → typed exception,
bounded retries with exponential backoff and jitter, and one ``ApiCall`` row.
Nothing else in the code base imports wechatpy's client or builds WeCom URLs.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import random
import time
from collections.abc import Iterator
from typing import Any

import redis
import requests
from django.conf import settings
from wechatpy.enterprise import WeChatClient

from scrm.core.context import request_id_var

from .errors import (
    RATE_LIMITED,
    TOKEN_ERRCODES,
    WeComError,
    WeComRateLimited,
    WeComRetryableError,
    WeComTransportError,
    error_for,
)
from .ratelimit import RateLimiter

logger = logging.getLogger(__name__)

# Who caused the calls being made (a task, a command, a user): stored on ApiCall.
triggered_by_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "wecom_triggered_by", default=""
)


@contextlib.contextmanager
def triggered_by(who: str) -> Iterator[None]:
    token = triggered_by_var.set(who[:128])
    try:
        yield
    finally:
        triggered_by_var.reset(token)


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with full jitter: attempt 1 → up to base, 2 → 2×base, …"""
    cap = min(settings.WECOM_RETRY_MAX_S, settings.WECOM_RETRY_BASE_S * (2 ** (attempt - 1)))
    return cap / 2 + random.uniform(0, cap / 2)


def _record(**fields: Any) -> None:
    """Write one ApiCall row; logging must never break the call it describes."""
    from .models import ApiCall

    fields.setdefault("triggered_by", triggered_by_var.get())
    fields.setdefault("request_id", request_id_var.get() if request_id_var.get() != "-" else "")
    try:
        ApiCall.objects.create(**fields)
    except Exception:
        logger.warning("could not record a WeCom call", extra={"endpoint": fields.get("endpoint")})


class WeComClient(WeChatClient):
    """wechatpy's enterprise client with our token cache, limiter and retry policy."""

    def __init__(self, *, corp_id: str, secret: str, api_base: str, redis_client: redis.Redis):
        super().__init__(corp_id, secret, timeout=settings.WECOM_HTTP_TIMEOUT_S, auto_retry=False)
        self.API_BASE_URL = api_base if api_base.endswith("/") else api_base + "/"
        self.redis = redis_client
        self.limiter = RateLimiter(redis_client)

    # ------------------------------------------------------------------ token
    @property
    def access_token_key(self) -> str:
        # Tokens are per corp and per secret (per app); never store the secret itself.
        import hashlib

        digest = hashlib.sha256(self.secret.encode()).hexdigest()[:12]
        return f"scrm:wecom:token:{self.corp_id}:{digest}"

    @property
    def access_token(self) -> str:
        return self._token()

    def fetch_access_token(self) -> dict:
        """wechatpy hard-codes the real gettoken URL; ours honours WECOM_API_BASE."""
        token = self._token(stale=self.redis.get(self.access_token_key))
        return {"access_token": token}

    def _token(self, *, stale: bytes | str | None = None) -> str:
        """The shared token; if it is missing (or is ``stale``), exactly one process refreshes it."""
        stale_s = stale.decode() if isinstance(stale, bytes) else stale
        cached = self.redis.get(self.access_token_key)
        if cached and cached.decode() != stale_s:
            return cached.decode()
        with self.redis.lock(self.access_token_key + ":lock", timeout=30, blocking_timeout=35):
            cached = self.redis.get(self.access_token_key)
            if cached and cached.decode() != stale_s:
                return cached.decode()  # another process refreshed it while we waited
            token, expires_in = self._gettoken()
            margin = min(settings.WECOM_TOKEN_REFRESH_MARGIN_S, expires_in // 5)
            self.redis.set(self.access_token_key, token, ex=max(1, expires_in - margin))
            return token

    def _gettoken(self) -> tuple[str, int]:
        for attempt in range(1, settings.WECOM_RETRY_MAX_ATTEMPTS + 1):
            try:
                result = self._send(
                    "GET",
                    "gettoken",
                    params={"corpid": self.corp_id, "corpsecret": self.secret},
                    attempt=attempt,
                )
                return result["access_token"], int(result.get("expires_in", 7200))
            except WeComRetryableError:
                if attempt >= settings.WECOM_RETRY_MAX_ATTEMPTS:
                    raise
                time.sleep(backoff_delay(attempt))
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ the chokepoint
    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        endpoint = url_or_endpoint
        if endpoint.startswith(("http://", "https://")):
            endpoint = endpoint.split("/cgi-bin/", 1)[-1]
        endpoint = endpoint.split("?", 1)[0].lstrip("/")
        params = dict(kwargs.pop("params", None) or {})
        data = kwargs.pop("data", None)
        result_processor = kwargs.pop("result_processor", None)
        token_refreshed = False
        attempt = 0
        while True:
            attempt += 1
            token = self._token()
            try:
                with self.limiter.slot(endpoint, timeout_s=self.timeout or 10):
                    result = self._send(
                        method.upper(),
                        endpoint,
                        params={**params, "access_token": token},
                        data=data,
                        attempt=attempt,
                    )
            except WeComError as exc:
                if exc.errcode in TOKEN_ERRCODES and not token_refreshed:
                    # Repeat once with a fresh token; only the first process to notice refreshes it.
                    token_refreshed = True
                    self._token(stale=token)
                    attempt -= 1
                    continue
                if exc.errcode == RATE_LIMITED:
                    self.limiter.block(endpoint)
                if not exc.retryable or attempt >= settings.WECOM_RETRY_MAX_ATTEMPTS:
                    raise
                if isinstance(exc, WeComRateLimited) and exc.errcode is None:
                    raise  # our own limiter already waited as long as a caller should
                delay = backoff_delay(attempt)
                if exc.errcode == RATE_LIMITED:
                    delay = max(delay, self.limiter.blocked_for(endpoint))
                if delay > settings.WECOM_RATE_MAX_WAIT_S:
                    raise
                logger.info(
                    "wecom call will be retried",
                    extra={
                        "endpoint": endpoint,
                        "errcode": exc.errcode,
                        "delay_s": round(delay, 2),
                    },
                )
                time.sleep(delay)
                continue
            return result_processor(result) if result_processor else result

    def _send(
        self, method: str, endpoint: str, *, params: dict, data: Any = None, attempt: int = 1
    ) -> dict:
        """One HTTP exchange, recorded; returns the JSON body or raises a typed error."""
        body = None
        headers = {}
        if data is not None:
            body = (
                data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode()
            )
            headers["Content-Type"] = "application/json; charset=utf-8"
        started = time.monotonic()
        status = None
        errcode: int | None = None
        errmsg = ""
        try:
            response = self._http.request(
                method,
                self.API_BASE_URL + endpoint,
                params=params,
                data=body,
                headers=headers,
                timeout=self.timeout,
            )
            status = response.status_code
            if status >= 500:
                errmsg = f"HTTP {status}"
                raise WeComTransportError(None, errmsg, endpoint=endpoint)
            if status >= 400:
                errmsg = f"HTTP {status}"
                raise WeComError(None, errmsg, endpoint=endpoint)
            try:
                result = response.json()
            except ValueError as exc:
                errmsg = "response is not JSON"
                raise WeComTransportError(None, errmsg, endpoint=endpoint) from exc
            errcode = int(result.get("errcode", 0) or 0)
            if errcode != 0:
                errmsg = str(result.get("errmsg", ""))
                raise error_for(errcode, errmsg, endpoint=endpoint)
            return result
        except requests.Timeout as exc:
            errmsg = "timeout"
            raise WeComTransportError(None, errmsg, endpoint=endpoint) from exc
        except requests.RequestException as exc:
            errmsg = f"transport: {type(exc).__name__}"
            raise WeComTransportError(None, errmsg, endpoint=endpoint) from exc
        finally:
            _record(
                endpoint=endpoint[:128],
                method=method,
                http_status=status,
                errcode=errcode,
                errmsg=errmsg[:255],
                latency_ms=int((time.monotonic() - started) * 1000),
                attempt=attempt,
            )
