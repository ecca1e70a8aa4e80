"""The bank's systems report events (``POST /api/events/``): a batch is checked event by
event in memory, its customers are resolved with one query, and the good ones are
recorded with the one ``INSERT`` of ``events_record``. No query per event.

Each rejected event gets a stable code and a message; the rest of the batch is
recorded. A repeat of an event recorded before (same ``event_id`` from the API) is
counted as a duplicate and changes nothing.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm.core.errors import DomainError

from .models import Event, EventType
from .services import EventIn, events_record
from .sqlarrays import text_array

MAX_BATCH = 1000
MAX_EVENT_ID = 64
MAX_PROPERTIES_CHARS = 4096
FUTURE_LEEWAY = timedelta(minutes=5)
TYPES_TTL_S = 30.0


def max_age() -> timedelta:
    return timedelta(days=getattr(settings, "SCRM_EVENTS_MAX_AGE_DAYS", 90))


# --------------------------------------------------------------------------- event types

_types_lock = threading.Lock()
_types: tuple[float, frozenset[str]] | None = None


def api_types() -> frozenset[str]:
    """The codes the events API accepts, cached in the process for ``TYPES_TTL_S``
    seconds (and dropped at once in the process that changes a type)."""
    global _types
    now = time.monotonic()
    cached = _types
    if cached is not None and now - cached[0] < TYPES_TTL_S:
        return cached[1]
    with _types_lock:
        codes = frozenset(
            EventType.objects.filter(accept_from_api=True).values_list("code", flat=True)
        )
        _types = (now, codes)
    return codes


def api_types_clear(**_kwargs) -> None:
    global _types
    _types = None


post_save.connect(api_types_clear, sender=EventType, dispatch_uid="behaviour_types_save")
post_delete.connect(api_types_clear, sender=EventType, dispatch_uid="behaviour_types_delete")


# --------------------------------------------------------------------------- the batch


@dataclass(frozen=True)
class Rejection:
    index: int
    event_id: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "event_id": self.event_id,
            "code": self.code,
            "message": self.message,
        }


def _text(value, limit: int) -> str | None:
    """A non-empty string of at most ``limit`` characters PostgreSQL can store."""
    if type(value) is not str or not value or len(value) > limit or "\x00" in value:
        return None
    return value


def _moment(value) -> datetime | None:
    if type(value) is not str or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        return None
    return moment


_RESOLVE = """
SELECT 'x', c.external_userid, c.id,
       CASE WHEN c.verified_at IS NOT NULL THEN c.bank_record_id END
  FROM contacts_customer c
 WHERE c.external_userid = ANY(%s::varchar[]) AND c.status <> 'erased'
UNION ALL
SELECT 'b', b.customer_no,
       (SELECT c.id FROM contacts_customer c
         WHERE c.bank_record_id = b.id AND c.status <> 'erased'
         ORDER BY c.verified_at DESC NULLS LAST, c.id LIMIT 1),
       b.id
  FROM contacts_bankrecord b
 WHERE b.customer_no = ANY(%s::varchar[])
"""


def _resolve(userids: set[str], numbers: set[str]) -> dict[tuple[str, str], tuple]:
    """``{("x", external_userid) | ("b", customer_no): (customer_id, bank_record_id)}``
    for the batch's customers, in one query."""
    if not userids and not numbers:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_RESOLVE, [text_array(sorted(userids)), text_array(sorted(numbers))])
        return {(kind, key): (cid, bid) for kind, key, cid, bid in cursor.fetchall()}


def api_events_accept(*, events) -> dict:
    """Check and record one batch from the bank's systems. Returns the counts
    ``accepted`` / ``duplicate`` / ``rejected`` and ``rejections`` (index, event id,
    code, message). ``DomainError`` (400) when the batch itself is malformed or has
    more than ``MAX_BATCH`` events."""
    if not isinstance(events, list):
        raise DomainError("invalid", _('请求体须为 {"events": [...]}，events 为事件列表'))
    if len(events) > MAX_BATCH:
        raise DomainError(
            "batch_too_large",
            _("一批最多 %(max)s 个事件，本批 %(count)s 个")
            % {"max": MAX_BATCH, "count": len(events)},
            data={"max": MAX_BATCH},
        )
    types = api_types()
    now = timezone.now()
    oldest = now - max_age()
    latest = now + FUTURE_LEEWAY
    rejections: list[Rejection] = []
    checked: list[tuple[int, str, tuple[str, str], str, dict, str, datetime]] = []
    userids: set[str] = set()
    numbers: set[str] = set()

    for index, raw in enumerate(events):
        if not isinstance(raw, dict):
            rejections.append(Rejection(index, "", "invalid", _("事件须为 JSON 对象")))
            continue
        event_id = _text(raw.get("event_id"), MAX_EVENT_ID)
        shown_id = raw.get("event_id") if type(raw.get("event_id")) is str else ""
        shown_id = shown_id[:MAX_EVENT_ID].replace("\x00", "")

        def reject(code: str, message: str, index=index, shown_id=shown_id) -> None:
            rejections.append(Rejection(index, shown_id, code, message))

        if event_id is None:
            reject("invalid", _("event_id 须为 1 至 64 个字符的字符串"))
            continue
        who = raw.get("customer")
        key: tuple[str, str] | None = None
        if isinstance(who, dict) and len(who) == 1:
            if "external_userid" in who:
                value = _text(who["external_userid"], 64)
                key = ("x", value) if value else None
            elif "bank_customer_no" in who:
                value = _text(who["bank_customer_no"], 32)
                key = ("b", value) if value else None
        if key is None:
            reject(
                "invalid",
                _('customer 须为 {"external_userid": …} 或 {"bank_customer_no": …} 之一'),
            )
            continue
        code = raw.get("type")
        if type(code) is not str:
            reject("invalid", _("type 须为字符串"))
            continue
        if code not in types:
            reject(
                "bad_type", _("事件类型“%(type)s”未登记或不允许行内系统上报") % {"type": code[:48]}
            )
            continue
        properties = raw.get("properties", {})
        if properties is None:
            properties = {}
        if not isinstance(properties, dict):
            reject("invalid", _("properties 须为 JSON 对象"))
            continue
        text = "{}"
        if properties:
            text = json.dumps(properties, ensure_ascii=False)
            if len(text) > MAX_PROPERTIES_CHARS or "\\u0000" in text:
                reject(
                    "invalid",
                    _("properties 过大（最多 %(max)s 个字符）或含有不可存储的字符")
                    % {"max": MAX_PROPERTIES_CHARS},
                )
                continue
        occurred_at = _moment(raw.get("occurred_at"))
        if occurred_at is None:
            reject("invalid", _("occurred_at 须为带时区偏移的 ISO 8601 时间"))
            continue
        if occurred_at < oldest:
            reject(
                "too_old",
                _("事件发生时间早于 %(days)s 天前，不再接收") % {"days": max_age().days},
            )
            continue
        if occurred_at > latest:
            reject("in_future", _("事件发生时间晚于当前时间 5 分钟以上"))
            continue
        (userids if key[0] == "x" else numbers).add(key[1])
        checked.append((index, event_id, key, code, properties, text, occurred_at))

    found = _resolve(userids, numbers)
    ready: list[EventIn] = []
    for index, event_id, key, code, properties, text, occurred_at in checked:
        match = found.get(key)
        if match is None:
            rejections.append(Rejection(index, event_id, "unknown_customer", _("找不到该客户")))
            continue
        customer_id, bank_record_id = match
        ready.append(
            EventIn(
                event_id=event_id,
                customer_id=customer_id,
                bank_record_id=bank_record_id,
                type=code,
                occurred_at=occurred_at,
                properties=properties,
                properties_json=text,
            )
        )
    new = events_record(events=ready, source=Event.Source.API)
    rejections.sort(key=lambda r: r.index)
    return {
        "accepted": len(new),
        "duplicate": len(ready) - len(new),
        "rejected": len(rejections),
        "rejections": [r.as_dict() for r in rejections],
    }
