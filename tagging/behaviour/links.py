"""Short signed per-recipient links of tracked materials: ``/t/<token>`` (the redirect)
and ``/h5/a/<token>/`` (our own article page).

A token is ``<material>.<recipient>.<day>.<signature>``: the material's id, the
recipient (a customer's id, or ``g`` and a group's id for a group message, where no
single customer can be named) and the day it was made, in base62, and a truncated HMAC
of them under the secret key. It stays short enough for a WeCom link card, names one
recipient, and cannot be altered to name another without the key. After
``BEHAVIOUR_LINK_MAX_AGE_DAYS`` (a year by default) it records nothing: the redirect
still takes the customer to the material (the message stays in their chat), our own
article page says the link has expired.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from scrm.core.links import LinkInvalid

SALT = "behaviour.tracked-link"
SIGNATURE_CHARS = 12  # ~71 bits
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_MAX_PART = 12  # base62 of any bigint fits in 11
_EPOCH_DAY = 18262  # 2020-01-01, so a day's number stays short (and positive)
DEFAULT_MAX_AGE_DAYS = 365


def _today() -> int:
    return int(time.time() // 86400) - _EPOCH_DAY


def b62(number: int) -> str:
    if number <= 0:
        raise ValueError("only positive ids are encoded")
    out = []
    while number:
        number, rest = divmod(number, 62)
        out.append(_ALPHABET[rest])
    return "".join(reversed(out))


def b62_read(text: str) -> int | None:
    if not text or len(text) > _MAX_PART or text[0] == "0":
        return None
    number = 0
    for char in text:
        digit = _INDEX.get(char)
        if digit is None:
            return None
        number = number * 62 + digit
    return number


def _signature(body: str) -> str:
    digest = int.from_bytes(salted_hmac(SALT, body, algorithm="sha256").digest()[:10], "big")
    return b62(digest or 1).rjust(SIGNATURE_CHARS, "0")[:SIGNATURE_CHARS]


@dataclass(frozen=True)
class TrackedLink:
    material_id: int
    customer_id: int | None = None
    group_id: int | None = None

    @property
    def channel(self) -> str:
        return "single" if self.customer_id else "group"


def token_make(*, material_id: int, customer_id: int | None = None, group_id=None) -> str:
    if (customer_id is None) == (group_id is None):
        raise ValueError("a tracked link names one customer or one group")
    recipient = b62(customer_id) if customer_id else "g" + b62(group_id)
    body = f"{b62(material_id)}.{recipient}.{b62(_today())}"
    return f"{body}.{_signature(body)}"


def material_part(token: str) -> int | None:
    """The material id the token's unsigned first part names (which may be forged:
    only ever used to pick a URL we registered)."""
    return b62_read(token.split(".", 1)[0]) if len(token) <= 64 else None


def token_read(token: str) -> TrackedLink:
    """The material and recipient of a tracked link; ``LinkInvalid`` for an altered,
    forged or expired one."""
    parts = token.split(".") if len(token) <= 64 else []
    if len(parts) != 4:
        raise LinkInvalid(_("链接无效"), reason="bad_payload")
    material, recipient, day, signature = parts
    if not constant_time_compare(signature, _signature(f"{material}.{recipient}.{day}")):
        raise LinkInvalid(_("链接无效"), reason="bad_signature")
    made = b62_read(day)
    max_age = getattr(settings, "BEHAVIOUR_LINK_MAX_AGE_DAYS", DEFAULT_MAX_AGE_DAYS)
    if made is None or made > _today() + 1:
        raise LinkInvalid(_("链接无效"), reason="bad_payload")
    if _today() - made > max_age:
        raise LinkInvalid(_("链接已过期"), reason="expired")
    material_id = b62_read(material)
    group = recipient.startswith("g")
    recipient_id = b62_read(recipient[1:] if group else recipient)
    if material_id is None or recipient_id is None:
        raise LinkInvalid(_("链接无效"), reason="bad_payload")
    if group:
        return TrackedLink(material_id=material_id, group_id=recipient_id)
    return TrackedLink(material_id=material_id, customer_id=recipient_id)


def _absolute(path: str) -> str:
    return settings.SCRM_PUBLIC_URL.rstrip("/") + path


def tracked_url(*, material_id: int, customer_id=None, group_id=None, article=False) -> str:
    token = token_make(material_id=material_id, customer_id=customer_id, group_id=group_id)
    name = "behaviour:h5-article" if article else "behaviour:tracked-link"
    return _absolute(reverse(name, args=[token]))
