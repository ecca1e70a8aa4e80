"""Typed errors for WeCom calls: every failure says whether trying again can help."""

from __future__ import annotations

# Invalid or expired token (and a rotated secret): refresh the shared token, repeat once.
TOKEN_ERRCODES = frozenset({40001, 40014, 41001, 42001})
# WeCom is busy, over a frequency/concurrency limit or mid-update: back off and retry.
RETRYABLE_ERRCODES = frozenset({-1, 6000, 41063, 45009, 45033})
# Welcome code expired, used, or already being sent: fall back to a manager task.
WELCOME_CODE_ERRCODES = frozenset({41050, 41051, 41096})
# Misconfiguration ops must fix (not a bug in the call itself).
CONFIG_ERRCODES = frozenset({40013, 48002, 60020, 84074})
RATE_LIMITED = 45009
NOT_EXTERNAL_CONTACT = 84061


class WeComError(Exception):
    """Any failed WeCom call. ``errcode`` is None for transport failures."""

    retryable = False

    def __init__(self, errcode: int | None, errmsg: str, *, endpoint: str = ""):
        super().__init__(f"{endpoint}: {errcode} {errmsg}".strip())
        self.errcode = errcode
        self.errmsg = errmsg
        self.endpoint = endpoint


class WeComRetryableError(WeComError):
    """Trying again later can succeed (busy, limited, timeout, 5xx)."""

    retryable = True


class WeComRateLimited(WeComRetryableError):
    """WeCom answered 45009, or our own limiter would have to wait too long."""


class WeComTransportError(WeComRetryableError):
    """No usable answer: connection refused, timeout, HTTP 5xx, not JSON."""


class WeComPermanentError(WeComError):
    """WeCom said no for good: repeating the same call cannot help."""


class WeComConfigError(WeComPermanentError):
    """The app is not allowed to do this (IP, permission, secret): tell ops."""


def error_for(errcode: int, errmsg: str, *, endpoint: str = "") -> WeComError:
    """The exception for a non-zero errcode."""
    if errcode == RATE_LIMITED:
        return WeComRateLimited(errcode, errmsg, endpoint=endpoint)
    if errcode in RETRYABLE_ERRCODES:
        return WeComRetryableError(errcode, errmsg, endpoint=endpoint)
    if errcode in CONFIG_ERRCODES:
        return WeComConfigError(errcode, errmsg, endpoint=endpoint)
    return WeComPermanentError(errcode, errmsg, endpoint=endpoint)
