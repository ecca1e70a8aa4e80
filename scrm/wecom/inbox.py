"""The callback inbox: store first (one INSERT), process later (a Celery task).

The webhook only calls :func:`inbox_event_store`; everything else happens in the
worker. Rows are claimed with a guarded update and a lease, so a redelivered
task or a sweeper re-send never runs a handler twice at the same time; handlers
themselves are idempotent, so running one again after a crash changes nothing.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from .errors import WeComError, WeComPermanentError
from .models import InboxEvent

logger = logging.getLogger(__name__)

# Fields that identify what a change_external_* event is about (besides CreateTime).
_ID_FIELDS = (
    "UserID",
    "ExternalUserID",
    "ChatId",
    "UpdateDetail",
    "LastMemVer",
    "CurMemVer",
    "Id",
    "TagType",
    "Source",
    "FailReason",
)


def dedupe_key(fields: dict) -> str:
    """One key per real-world event, equal across WeCom's retries of it.

    ``change_external_*`` events come from ``sys`` with no MsgId: (Event,
    ChangeType, the ids, CreateTime) identifies them. Messages with a MsgId use
    it; anything else is keyed by its full content.
    """
    event = str(fields.get("Event") or "")
    if event.startswith("change_external_") or event == "change_contact":
        parts = [event, str(fields.get("ChangeType") or "")]
        parts += [f"{name}={fields[name]}" for name in _ID_FIELDS if fields.get(name)]
        parts.append(str(fields.get("CreateTime") or ""))
        key = "|".join(parts)
    elif fields.get("MsgId"):
        key = f"msg|{fields['MsgId']}"
    else:
        key = (
            "raw|"
            + hashlib.sha256(
                json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()
            ).hexdigest()
        )
    if len(key) > 191:
        key = key[:120] + "|" + hashlib.sha256(key.encode()).hexdigest()
    return key


_INSERT = (
    "INSERT INTO wecom_inboxevent"
    " (dedupe_key, event, change_type, payload, received_at, request_nonce,"
    " status, attempts, last_error)"
    " VALUES (%s, %s, %s, %s, %s, %s, 'pending', 0, '')"
    " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
)
_SAME_REQUEST = "SELECT 1 FROM wecom_inboxevent WHERE dedupe_key = %s AND request_nonce = %s"


class ReplayedRequest(Exception):
    """The very request that delivered a stored event, sent again."""


def inbox_event_store(*, fields: dict, request_nonce: str = "") -> int | None:
    """Store one decrypted event; the new row's id, or None if it was already there.

    ``request_nonce`` ("timestamp:nonce") is kept with the row; if the event is
    already stored under the same one, the request is a replay and
    :class:`ReplayedRequest` is raised (a WeCom retry carries a fresh nonce).

    One round trip: instead of Django's per-request health check of a reused
    connection (a ``SELECT 1``), the INSERT itself is the check, and a
    connection found dead is replaced and the INSERT run again (it is
    idempotent).
    """
    values = [
        dedupe_key(fields),
        str(fields.get("Event") or fields.get("MsgType") or "")[:64],
        str(fields.get("ChangeType") or "")[:64],
        json.dumps(fields, ensure_ascii=False),
        timezone.now(),
        request_nonce[:100],
    ]
    reused = connection.connection is not None and not connection.in_atomic_block
    if reused:
        connection.health_check_done = True
    try:
        return _insert(values)
    except (InterfaceError, OperationalError):
        if not reused:
            raise
        logger.warning("database connection lost; storing the callback on a new one")
        connection.close()
        return _insert(values)


def _insert(values: list) -> int | None:
    key, request_nonce = values[0], values[-1]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, values)
        row = cursor.fetchone()
        if row is None and request_nonce:
            cursor.execute(_SAME_REQUEST, [key, request_nonce])
            if cursor.fetchone():
                raise ReplayedRequest(request_nonce)
    return row[0] if row else None


class _Publisher:
    """Tells the workers, from a background thread, that committed rows are waiting.

    The request only adds one to a counter. A row that arrives when all is quiet
    is announced ``linger_s`` later; under a steady stream, at most every
    ``interval_s``, one Celery message (``inbox_drain``) per ``max_batch`` rows
    asks a worker to process that many of the oldest waiting rows. Publishing
    costs more than the rest of the request (and the workers are busy anyway
    during a burst); the workers find the rows themselves, in arrival order,
    whichever process stored them. If the broker is down, publishing pauses for
    a while and the rows (safe in the database) are re-sent by the sweeper, so a
    burst of callbacks keeps answering fast; a process that dies with a count
    not yet sent leaves its rows to the sweeper too.
    """

    def __init__(
        self,
        *,
        linger_s: float = 0.05,
        interval_s: float = 0.5,
        max_batch: int = 100,
        pause_s: float = 5.0,
    ):
        self.linger_s = linger_s
        self.interval_s = interval_s
        self.last_publish = float("-inf")
        self.max_batch = max_batch
        self.pause_s = pause_s
        self.open_until = 0.0
        self.cond = threading.Condition()
        self.waiting = 0
        self.pid = 0

    def submit(self, count: int = 1) -> None:
        with self.cond:
            if self.pid != os.getpid():  # first use, or forked (gunicorn workers)
                self.pid = os.getpid()
                self.waiting = 0
                threading.Thread(
                    target=self._run, name="wecom-inbox-publisher", daemon=True
                ).start()
                atexit.register(self.flush)
            self.waiting += count
            if self.waiting == count:
                self.cond.notify()

    def _take(self) -> int:
        with self.cond:
            count, self.waiting = self.waiting, 0
            return count

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.waiting:
                    self.cond.wait()
            # Let a burst gather into a few messages; under a steady stream, wait
            # out the interval since the last publish.
            time.sleep(max(self.linger_s, self.last_publish + self.interval_s - time.monotonic()))
            self.last_publish = time.monotonic()
            self.publish(self._take())

    def flush(self) -> None:
        self.publish(self._take())

    def publish(self, count: int) -> bool:
        if count <= 0 or time.monotonic() < self.open_until:
            return False
        from .tasks import inbox_drain

        try:
            # Several messages for a big burst, so every worker process takes a share.
            for start in range(0, count, self.max_batch):
                inbox_drain.apply_async((min(self.max_batch, count - start),), retry=False)
            return True
        except Exception as exc:
            self.open_until = time.monotonic() + self.pause_s
            logger.warning(
                "broker unavailable; the inbox sweeper will send these",
                extra={"error": type(exc).__name__, "count": count},
            )
            return False


publisher = _Publisher()


def inbox_rows_enqueue_on_commit(count: int = 1) -> None:
    """Once the transaction commits, tell the publisher that ``count`` more rows wait."""
    transaction.on_commit(lambda: publisher.submit(count))


# ---------------------------------------------------------------------- processing


@dataclass
class Outcome:
    status: str
    retry_in: float | None = None
    event_id: int | None = None


@dataclass
class _Claimed:
    id: int
    payload: dict
    attempts: int
    event: str
    change_type: str
    last_error: str


# Claims and finishes are committed asynchronously (no WAL flush wait): if the
# database crashes and loses one, the row is simply processed again, and
# handlers are idempotent. The handlers' own writes keep synchronous commits,
# and WAL order means a finish that survived implies they did too.
_CLAIM_BY_ID = (
    "SET LOCAL synchronous_commit TO OFF;"
    " UPDATE wecom_inboxevent"
    " SET status = 'processing', lease_until = %(lease)s, attempts = attempts + 1"
    " WHERE id = %(id)s"
    " AND (status = 'pending' OR (status = 'processing' AND lease_until < %(now)s))"
    " RETURNING id, payload, attempts, event, change_type, last_error"
)
# The oldest waiting rows that no other worker is claiming right now. One
# statement claims a few: finding the first waiting row means stepping over the
# index entries of rows already processed (until vacuum removes them), a cost
# paid once per batch instead of once per row.
_CLAIM_NEXT = (
    "SET LOCAL synchronous_commit TO OFF;"
    " UPDATE wecom_inboxevent"
    " SET status = 'processing', lease_until = %(lease)s, attempts = attempts + 1"
    " WHERE id IN (SELECT id FROM wecom_inboxevent WHERE status = 'pending'"
    " AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s)"
    " ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
    " RETURNING id, payload, attempts, event, change_type, last_error"
)
# Claimed rows a drain hands back unstarted (its lease running short).
_RELEASE = (
    "UPDATE wecom_inboxevent"
    " SET status = 'pending', lease_until = NULL, attempts = attempts - 1"
    " WHERE id = ANY(%(ids)s) AND status = 'processing'"
)
_FINISH = (
    "SET LOCAL synchronous_commit TO OFF;"
    " UPDATE wecom_inboxevent"
    " SET status = %(status)s, lease_until = NULL, processed_at = %(now)s,"
    " last_error = %(error)s WHERE id = %(id)s"
)


def _claim(sql: str, *, event_id: int | None = None, limit: int = 1) -> list[_Claimed]:
    now = timezone.now()
    params = {
        "id": event_id,
        "now": now,
        "lease": now + timedelta(seconds=settings.WECOM_INBOX_LEASE_S),
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = [_Claimed(*row) for row in cursor.fetchall()]
    for claimed in rows:
        if isinstance(claimed.payload, str):
            claimed.payload = json.loads(claimed.payload)
    return sorted(rows, key=lambda row: row.id)


def inbox_event_process(*, event_id: int) -> Outcome:
    """Claim this row, run its handler, and record what happened."""
    rows = _claim(_CLAIM_BY_ID, event_id=event_id)
    if not rows:
        return Outcome("skipped", event_id=event_id)  # done, or another worker holds the lease
    return _run(rows[0])


def inbox_waiting_process(*, limit: int) -> list[Outcome]:
    """Process up to ``limit`` of the oldest waiting rows, in arrival order.

    Rows are claimed a few at a time (``WECOM_INBOX_CLAIM_BATCH``) and run one
    after another, so parallel workers keep close to arrival order and each
    sees the effects of the rows before it (group fill levels, say). Rows
    claimed but not started when half their lease is gone (slow handlers) go
    back to the queue, so the sweeper never re-sends a row a worker still
    intends to run. Stops early when nothing is left to take.
    """
    outcomes: list[Outcome] = []
    while len(outcomes) < limit:
        batch = min(settings.WECOM_INBOX_CLAIM_BATCH, limit - len(outcomes))
        started = time.monotonic()
        rows = _claim(_CLAIM_NEXT, limit=batch)
        for i, row in enumerate(rows):
            if time.monotonic() - started > settings.WECOM_INBOX_LEASE_S / 2:
                _release(rows[i:])
                return outcomes
            outcomes.append(_run(row))
        if len(rows) < batch:
            break
    return outcomes


def _release(rows: list[_Claimed]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_RELEASE, {"ids": [row.id for row in rows]})


def _run(row: _Claimed) -> Outcome:
    from .dispatch import handler_for

    handler = handler_for(row.payload)
    if handler is None:
        _finish(row, InboxEvent.Status.IGNORED)
        return Outcome(InboxEvent.Status.IGNORED, event_id=row.id)
    from .client import triggered_by

    try:
        with triggered_by(f"inbox:{row.id}:{row.event}/{row.change_type}"):
            handler(row.payload)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        permanent = isinstance(exc, WeComPermanentError) or (
            not isinstance(exc, WeComError) and isinstance(exc, (KeyError, ValueError, TypeError))
        )
        if permanent or row.attempts >= settings.WECOM_INBOX_MAX_ATTEMPTS:
            _finish(row, InboxEvent.Status.DEAD, error=error)
            logger.error("inbox event parked as dead", extra={"event_id": row.id, "error": error})
            return Outcome(InboxEvent.Status.DEAD, event_id=row.id)
        delay = min(
            settings.WECOM_INBOX_RETRY_BASE_S * (2 ** (row.attempts - 1)),
            settings.SCRM_MAX_COUNTDOWN_S,
        )
        InboxEvent.objects.filter(id=row.id, status=InboxEvent.Status.PROCESSING).update(
            status=InboxEvent.Status.PENDING,
            lease_until=None,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            last_error=error,
        )
        logger.warning("inbox event failed; will retry", extra={"event_id": row.id, "error": error})
        return Outcome(InboxEvent.Status.PENDING, retry_in=delay, event_id=row.id)
    _finish(row, InboxEvent.Status.DONE)
    return Outcome(InboxEvent.Status.DONE, event_id=row.id)


def _finish(row: _Claimed, status: str, *, error: str = "") -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            _FINISH,
            {
                "status": status,
                "now": timezone.now(),
                "error": error or row.last_error,
                "id": row.id,
            },
        )


def inbox_sweep(*, older_than_s: float | None = None) -> list[int]:
    """Ids of rows the broker lost (pending too long, or a lease that ran out)."""
    now = timezone.now()
    age = settings.WECOM_INBOX_SWEEP_AFTER_S if older_than_s is None else older_than_s
    cutoff = now - timedelta(seconds=age)
    stuck = InboxEvent.objects.filter(
        Q(status=InboxEvent.Status.PENDING, next_attempt_at__isnull=True, received_at__lte=cutoff)
        | Q(status=InboxEvent.Status.PENDING, next_attempt_at__lte=cutoff)
        | Q(status=InboxEvent.Status.PROCESSING, lease_until__lt=now)
    ).order_by("id")
    return list(stuck.values_list("id", flat=True)[: settings.WECOM_INBOX_SWEEP_BATCH])


@transaction.atomic
def inbox_event_replay(*, event_ids: list[int]) -> int:
    """Ops: send dead (or ignored) events through their handlers again."""
    ids = list(
        InboxEvent.objects.filter(id__in=event_ids)
        .exclude(status__in=[InboxEvent.Status.PENDING, InboxEvent.Status.PROCESSING])
        .values_list("id", flat=True)
    )
    InboxEvent.objects.filter(id__in=ids).update(
        status=InboxEvent.Status.PENDING,
        attempts=0,
        next_attempt_at=None,
        lease_until=None,
        processed_at=None,
    )
    if ids:
        inbox_rows_enqueue_on_commit(len(ids))
    return len(ids)
