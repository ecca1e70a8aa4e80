"""The WeCom callback endpoint: verify, decrypt, store, answer ``success``. Nothing else.

Everything that can be slow (API calls, domain writes) happens in the worker;
the request does one INSERT … ON CONFLICT DO NOTHING (no Redis: a broker outage
cannot refuse a callback) and counts the row for a publisher that wakes the workers.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, UnreadablePostError
from django.views.decorators.csrf import csrf_exempt

from .crypto import CallbackError, decrypt_echostr, decrypt_event, keys_from_settings
from .inbox import ReplayedRequest, inbox_event_store, inbox_rows_enqueue_on_commit

logger = logging.getLogger(__name__)

# Unix seconds have 10 digits until the year 2286; 12 leaves room and keeps int() cheap.
_TIMESTAMP_MAX_DIGITS = 12


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


def _check_timestamp_form(raw: str) -> None:
    """Unix seconds in ASCII digits; anything else (``1e9``, ``-5``, 309 digits) is refused
    before it reaches ``int()`` or float arithmetic."""
    if not (len(raw) <= _TIMESTAMP_MAX_DIGITS and raw.isascii() and raw.isdigit()):
        raise CallbackError("bad timestamp")


def _check_timestamp_fresh(raw: str) -> None:
    if abs(time.time() - int(raw)) > settings.WECOM_CALLBACK_MAX_SKEW_S:
        raise CallbackError("stale timestamp", 403)


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise CallbackError("bad Content-Length") from exc


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
        _check_timestamp_form(timestamp)
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
        _check_timestamp_fresh(timestamp)
        if _content_length(request) > settings.WECOM_CALLBACK_MAX_BODY:
            raise CallbackError("body too large", 413)
        try:
            body = request.read(settings.WECOM_CALLBACK_MAX_BODY + 1)
        except UnreadablePostError as exc:  # the client went away mid-body
            raise CallbackError("unreadable body") from exc
        if len(body) > settings.WECOM_CALLBACK_MAX_BODY:
            raise CallbackError("body too large", 413)
        fields = decrypt_event(
            keys_from_settings(),
            body=body,
            msg_signature=signature,
            timestamp=timestamp,
            nonce=nonce,
        )
        # One round trip: the INSERT also tells a replay of this very request.
        event_id = inbox_event_store(fields=fields, request_nonce=f"{timestamp}:{nonce}")
    except ReplayedRequest:
        # The same delivery again (a proxy or client retrying): the event is already
        # stored, so this changes nothing. WeCom counts any non-200 as a failure and
        # would keep retrying, so it gets the same answer as the first time.
        logger.debug("wecom callback repeated", extra={"ip": request.META.get("REMOTE_ADDR")})
        return HttpResponse("success", content_type="text/plain")
    except CallbackError as error:
        return _refuse(request, error)
    if event_id is not None:
        inbox_rows_enqueue_on_commit()
    return HttpResponse("success", content_type="text/plain")


def ping_trivial(request: HttpRequest) -> HttpResponse:
    """Benchmark baseline: the cheapest possible "success" on the same server."""
    if not settings.SCRM_BENCH_ENDPOINTS:
        raise Http404
    return HttpResponse("success", content_type="text/plain")


ping_trivial = csrf_exempt(ping_trivial)
