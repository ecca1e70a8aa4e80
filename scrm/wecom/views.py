"""The WeCom callback endpoint: verify, decrypt, store, answer ``success``. Nothing else.

Everything that can be slow (API calls, domain writes) happens in the worker;
the request does one INSERT … ON CONFLICT DO NOTHING and enqueues on commit.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import redis
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .crypto import CallbackError, decrypt_echostr, decrypt_event, keys_from_settings
from .inbox import inbox_event_enqueue_on_commit, inbox_event_store

logger = logging.getLogger(__name__)


class _NonceGuard:
    """Refuses a nonce seen within the replay window (Redis SET NX with a TTL).

    If Redis is unreachable the guard lets requests through for a few seconds
    (and logs it): the signature and timestamp checks still hold, and the
    inbox's unique key still collapses replays; losing real events would be worse.
    """

    def __init__(self) -> None:
        self._client: redis.Redis | None = None
        self._url = ""
        self.skip_until = 0.0
        self.lock = threading.Lock()

    def client(self) -> redis.Redis:
        if self._client is None or self._url != settings.REDIS_URL:
            with self.lock:
                self._url = settings.REDIS_URL
                self._client = redis.Redis.from_url(
                    self._url, socket_timeout=0.5, socket_connect_timeout=0.5
                )
        return self._client

    def first_use(self, nonce: str, timestamp: str) -> bool:
        if time.monotonic() < self.skip_until:
            return True
        try:
            key = f"scrm:wecom:nonce:{timestamp}:{nonce}"
            return bool(self.client().set(key, "1", nx=True, ex=settings.WECOM_NONCE_TTL_S))
        except redis.RedisError as exc:
            self.skip_until = time.monotonic() + 5
            logger.warning(
                "nonce check skipped: redis unavailable", extra={"error": type(exc).__name__}
            )
            return True

    def forget(self, nonce: str, timestamp: str) -> None:
        with contextlib.suppress(redis.RedisError):
            self.client().delete(f"scrm:wecom:nonce:{timestamp}:{nonce}")


nonces = _NonceGuard()


def _refuse(request: HttpRequest, error: CallbackError) -> HttpResponse:
    logger.warning(
        "wecom callback refused",
        extra={
            "reason": error.reason,
            "status": error.status,
            "ip": request.META.get("REMOTE_ADDR"),
        },
    )
    return HttpResponse(error.reason, status=error.status, content_type="text/plain")


def _check_timestamp(raw: str) -> None:
    try:
        ts = int(raw)
    except (TypeError, ValueError) as exc:
        raise CallbackError("bad timestamp") from exc
    if abs(time.time() - ts) > settings.WECOM_CALLBACK_MAX_SKEW_S:
        raise CallbackError("stale timestamp", 403)


@csrf_exempt
def callback(request: HttpRequest) -> HttpResponse:
    q = request.GET
    signature, timestamp, nonce = (
        q.get("msg_signature", ""),
        q.get("timestamp", ""),
        q.get("nonce", ""),
    )
    try:
        if not (signature and timestamp and nonce):
            raise CallbackError("missing msg_signature/timestamp/nonce")
        if request.method == "GET":
            # URL verification: answer the plaintext, nothing more (no quotes, no newline).
            plain = decrypt_echostr(
                keys_from_settings(),
                msg_signature=signature,
                timestamp=timestamp,
                nonce=nonce,
                echostr=q.get("echostr", ""),
            )
            return HttpResponse(plain, content_type="text/plain; charset=utf-8")
        if request.method != "POST":
            return HttpResponse(status=405)
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.WECOM_CALLBACK_MAX_BODY:
            raise CallbackError("body too large", 413)
        body = request.read(settings.WECOM_CALLBACK_MAX_BODY + 1)
        if len(body) > settings.WECOM_CALLBACK_MAX_BODY:
            raise CallbackError("body too large", 413)
        _check_timestamp(timestamp)
        fields = decrypt_event(
            keys_from_settings(),
            body=body,
            msg_signature=signature,
            timestamp=timestamp,
            nonce=nonce,
        )
        if not nonces.first_use(nonce, timestamp):
            raise CallbackError("replayed nonce", 409)
    except CallbackError as error:
        return _refuse(request, error)
    try:
        event_id = inbox_event_store(fields=fields)
    except Exception:
        nonces.forget(nonce, timestamp)  # let WeCom's retry of this very request through
        raise
    if event_id is not None:
        inbox_event_enqueue_on_commit(event_id)
    return HttpResponse("success", content_type="text/plain")


def ping_trivial(request: HttpRequest) -> HttpResponse:
    """Benchmark baseline: the cheapest possible "success" on the same server."""
    if not settings.SCRM_BENCH_ENDPOINTS:
        raise Http404
    return HttpResponse("success", content_type="text/plain")


ping_trivial = csrf_exempt(ping_trivial)
