"""Idempotency keys of external writes: the first answer to a key is stored and
replayed for every retry with the same request; the same key with another request
is refused (422 ``idempotency_key_reused``).

The record is inserted first in the transaction that does the work: a concurrent
retry waits on its unique key until the first request commits, then replays what
it answered. A failure (a ``DomainError``) is answered and stored like a success,
the work itself rolled back; a crash stores nothing, so the retry does the work.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from scrm.core.errors import DomainError

from ..models import IdempotencyRecord

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool = False
    text: str = ""  # the JSON sent, byte for byte the same on every replay

    def json_text(self) -> str:
        return self.text or answer_text(self.body)


def answer_text(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)


def request_fingerprint(*, method: str, path: str, data: Any) -> str:
    canonical = json.dumps(
        [method.upper(), path, data], sort_keys=True, ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key_check(key: str | None) -> str:
    if not key:
        raise DomainError(
            "idempotency_key_required", _("请在请求头 Idempotency-Key 中提供幂等键"), status=400
        )
    if not _KEY.match(key):
        raise DomainError(
            "idempotency_key_invalid", _("幂等键须为 1 到 255 个可见 ASCII 字符"), status=400
        )
    return key


def idempotent(*, owner: str, key: str, fingerprint: str, action: Callable[[], Answer]) -> Answer:
    """Run ``action`` once per (owner, key); replay its answer afterwards."""
    key = idempotency_key_check(key)
    with transaction.atomic():
        record, created = IdempotencyRecord.objects.get_or_create(
            owner=owner, key=key, defaults={"fingerprint": fingerprint}
        )
        if not created:
            if record.fingerprint != fingerprint:
                raise DomainError(
                    "idempotency_key_reused",
                    _("该幂等键已用于另一个请求，请为新请求使用新的幂等键"),
                    status=422,
                )
            text = record.body or "{}"
            return Answer(
                status=record.status_code or 500, body=json.loads(text), replayed=True, text=text
            )
        try:
            with transaction.atomic():
                answer = action()
        except DomainError as exc:
            answer = Answer(status=exc.status, body=exc.as_dict())
        text = answer_text(answer.body)
        record.status_code = answer.status
        record.body = text
        record.save(update_fields=["status_code", "body"])
        return Answer(status=answer.status, body=json.loads(text), text=text)
