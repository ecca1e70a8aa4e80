"""Writes on behaviour events: record once, then hand the new ones to the rules above.

Every source (the events API, tracked materials, our own actions, surveys) goes
through ``events_record``: one ``INSERT … ON CONFLICT DO NOTHING`` for the batch,
and an ``EventBatch`` row in the same transaction that a Celery task (or, when the
broker lost it, the sweep) evaluates.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from .models import Event, EventBatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventIn:
    event_id: str
    customer_id: int | None
    type: str
    occurred_at: datetime
    properties: dict = field(default_factory=dict)
    bank_record_id: int | None = None


_INSERT = """
INSERT INTO behaviour_event
    (source, event_id, customer_id, bank_record_id, type, properties, occurred_at, received_at)
SELECT %s, e.event_id, e.customer_id, e.bank_record_id, e.type, e.properties::jsonb,
       e.occurred_at, %s
  FROM unnest(%s::varchar[], %s::bigint[], %s::bigint[], %s::varchar[], %s::text[],
              %s::timestamptz[])
       AS e(event_id, customer_id, bank_record_id, type, properties, occurred_at)
ON CONFLICT (source, event_id) DO NOTHING
RETURNING id, event_id
"""


def events_record(*, events: list[EventIn], source: str) -> dict[str, int]:
    """Insert the events not recorded before; returns ``{event_id: id}`` of the new
    ones (a repeat of an earlier event, or of one earlier in the same list, is left
    out). The new ones are queued for the rules once the caller's transaction commits."""
    if not events:
        return {}
    seen: set[str] = set()
    unique = [e for e in events if not (e.event_id in seen or seen.add(e.event_id))]
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _INSERT,
            [
                source,
                now,
                [e.event_id for e in unique],
                [e.customer_id for e in unique],
                [e.bank_record_id for e in unique],
                [e.type for e in unique],
                [json.dumps(e.properties, ensure_ascii=False) for e in unique],
                [e.occurred_at for e in unique],
            ],
        )
        new = dict((event_id, pk) for pk, event_id in cursor.fetchall())
        if new:
            batch = EventBatch.objects.create(event_ids=sorted(new.values()), created_at=now)
            transaction.on_commit(lambda: _batch_enqueue(batch.pk))
    return new


def event_record(
    *,
    customer_id: int,
    type: str,
    event_id: str,
    properties: dict | None = None,
    occurred_at: datetime | None = None,
    source: str = Event.Source.ACTION,
) -> int | None:
    """Record one event (our own actions: joined a group, claimed a coupon …); the new
    row's id, or None when this ``event_id`` was recorded before."""
    new = events_record(
        events=[
            EventIn(
                event_id=event_id,
                customer_id=customer_id,
                type=type,
                occurred_at=occurred_at or timezone.now(),
                properties=properties or {},
            )
        ],
        source=source,
    )
    return new.get(event_id)


def _batch_enqueue(batch_id: int) -> None:
    from .tasks import batch_process

    try:
        batch_process.delay(batch_id)
    except Exception:  # the broker is down: the sweep finds the batch
        log.warning("event batch %s not queued; the sweep will send it", batch_id)


def batch_process(*, batch_id: int) -> bool:
    """Evaluate one batch with whatever the apps above registered, then mark it done;
    False when it was done already (a redelivered task). The batch row is locked for
    the evaluation, so two workers never evaluate the same batch at once."""
    from . import hooks

    with transaction.atomic():
        batch = (
            EventBatch.objects.select_for_update(skip_locked=True)
            .filter(pk=batch_id, processed_at__isnull=True)
            .first()
        )
        if batch is None:
            return False
        hooks.events_recorded.call(event_ids=list(batch.event_ids))
        EventBatch.objects.filter(pk=batch.pk).update(
            processed_at=timezone.now(), attempts=batch.attempts + 1
        )
    return True


def batches_pending(*, older_than_s: int = 60, limit: int = 500) -> list[int]:
    """Batches still unevaluated a while after they were made (the broker lost the task,
    or its worker died): the sweep sends them again."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_s)
    return list(
        EventBatch.objects.filter(processed_at__isnull=True, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
