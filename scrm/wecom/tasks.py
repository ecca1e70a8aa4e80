"""Thin Celery tasks for the inbox and the reconciliation job.

None of them is retried by Celery: an inbox row carries its own attempts, lease and
next attempt, so a failure leaves it for its retry or the minute's sweep, and the
reconcile runs again the next night.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

logger = logging.getLogger(__name__)


def _retry_later(outcome) -> None:
    if outcome.retry_in is not None:
        # The row keeps next_attempt_at too, so the sweeper re-sends it if this is lost.
        inbox_process.apply_async(
            (outcome.event_id,), countdown=min(outcome.retry_in, settings.SCRM_MAX_COUNTDOWN_S)
        )


@shared_task(name="scrm.wecom.tasks.inbox_process", acks_late=True, ignore_result=True)
def inbox_process(event_id: int) -> str:
    """Claim one inbox row, run its handler, record the outcome.

    Final failure: a handler that fails is retried by the inbox itself, with backoff
    (the row keeps ``next_attempt_at``), until ``WECOM_INBOX_MAX_ATTEMPTS`` or a
    permanent error; then the row is marked dead, with the error, for ops to replay.
    A worker that dies mid-handler leaves the row leased: the sweep sends it again
    once the lease has run out (the message is also acknowledged only after the run).
    """
    from .inbox import inbox_event_process

    outcome = inbox_event_process(event_id=event_id)
    _retry_later(outcome)
    return outcome.status


@shared_task(name="scrm.wecom.tasks.inbox_process_batch", acks_late=True, ignore_result=True)
def inbox_process_batch(event_ids: list[int]) -> int:
    """These rows (the sweeper's re-sends), each claimed just before its handler runs.

    Final failure: as ``inbox_process`` for each row; rows not reached stay pending
    and the next sweep sends them again.
    """
    for event_id in event_ids:
        inbox_process(event_id)
    return len(event_ids)


@shared_task(name="scrm.wecom.tasks.inbox_drain", acks_late=True, ignore_result=True)
def inbox_drain(limit: int) -> int:
    """Process up to ``limit`` of the oldest waiting rows (the webhook's publisher
    sends one such message for every few callbacks stored).

    Rows are claimed a few at a time, oldest first, so parallel workers keep
    close to arrival order; a drain that finds nothing left (another worker, or
    the sweeper, got there first) stops early.

    Final failure: as ``inbox_process`` for each row it ran; rows it claimed but did
    not start are handed back or, if it died, leased until the sweep takes them.
    """
    from .inbox import inbox_waiting_process

    outcomes = inbox_waiting_process(limit=limit)
    for outcome in outcomes:
        _retry_later(outcome)
    return len(outcomes)


@shared_task(name="scrm.wecom.tasks.inbox_sweep", ignore_result=True)
def inbox_sweep() -> int:
    """Send rows the broker lost (pending too long, or a lease that ran out) again.

    Final failure: no retry; the next sweep a minute later finds the same rows.
    """
    from .inbox import inbox_sweep as find_stuck

    ids = find_stuck()
    for i in range(0, len(ids), 100):
        inbox_process_batch.delay(ids[i : i + 100])
    if ids:
        logger.info("inbox sweeper re-sent events", extra={"count": len(ids)})
    return len(ids)


@shared_task(name="scrm.wecom.tasks.wecom_sync", ignore_result=True, acks_late=False)
def wecom_sync(confirm_mass_removal: bool = False, confirmed_by_id: int | None = None) -> dict:
    """The nightly reconciliation with WeCom (also ``manage.py wecom_sync``).

    Final failure: no retry; steps that finished keep their changes (each is
    idempotent), the worker logs the error, and the next night's run reads
    everything again. A run that would end too much is held instead, and waits for
    ops (the hold fails /healthz until it is confirmed or cleared).
    """
    from django.contrib.auth import get_user_model

    from .client import triggered_by
    from .sync import wecom_sync_all

    confirmed_by = (
        get_user_model().objects.filter(pk=confirmed_by_id).first() if confirmed_by_id else None
    )
    with triggered_by("task:wecom_sync"):
        report = wecom_sync_all(
            confirm_mass_removal=confirm_mass_removal, confirmed_by=confirmed_by
        )
    logger.info("wecom reconciliation finished", extra={"report": report.as_dict()})
    return report.as_dict()
