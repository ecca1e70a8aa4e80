"""Personal signed links: a token that names a customer (and what the link is for)
without a login.

Each kind of link signs under a salt of its own, so one kind can never pass as
another; a token expires and cannot be altered to name someone else. The apps
that hand out links (campaigns, surveys, tracked materials) make and read their
tokens through these two functions.
"""

from __future__ import annotations

from django.core import signing
from django.utils.translation import gettext as _

from scrm.core.errors import DomainError


class LinkInvalid(DomainError):
    def __init__(self, message: str, *, reason: str):
        super().__init__("link_invalid", message, status=403)
        self.reason = reason


def positive_int(value) -> int | None:
    """``value`` when it is a positive int (bool, an int subclass, excluded on purpose)."""
    return value if type(value) is int and value > 0 else None


def signed_make(payload: dict, *, salt: str) -> str:
    return signing.TimestampSigner(salt=salt).sign_object(payload, compress=True)


def signed_read(token: str, *, salt: str, max_age: int) -> dict:
    """The payload of a personal link signed under ``salt``; ``LinkInvalid`` (with the
    reason) for an expired, forged or altered one."""
    try:
        data = signing.TimestampSigner(salt=salt).unsign_object(token, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise LinkInvalid(_("链接已过期，请联系您的客户经理重新发送"), reason="expired") from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise LinkInvalid(_("链接无效"), reason="bad_signature") from exc
    if not isinstance(data, dict):
        raise LinkInvalid(_("链接无效"), reason="bad_payload")
    return data
