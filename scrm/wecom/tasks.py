"""Thin Celery tasks for the inbox and the reconciliation job."""

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
    from .inbox import inbox_event_process

    outcome = inbox_event_process(event_id=event_id)
    _retry_later(outcome)
    return outcome.status


@shared_task(name="scrm.wecom.tasks.inbox_process_batch", acks_late=True, ignore_result=True)
def inbox_process_batch(event_ids: list[int]) -> int:
    """These rows (the sweeper's re-sends), each claimed just before its handler runs."""
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
    """
    from .inbox import inbox_waiting_process

    outcomes = inbox_waiting_process(limit=limit)
    for outcome in outcomes:
        _retry_later(outcome)
    return len(outcomes)


@shared_task(name="scrm.wecom.tasks.inbox_sweep", ignore_result=True)
def inbox_sweep() -> int:
    from .inbox import inbox_sweep as find_stuck

    ids = find_stuck()
    for i in range(0, len(ids), 100):
        inbox_process_batch.delay(ids[i : i + 100])
    if ids:
        logger.info("inbox sweeper re-sent events", extra={"count": len(ids)})
    return len(ids)


@shared_task(name="scrm.wecom.tasks.wecom_sync", ignore_result=True, acks_late=False)
def wecom_sync(confirm_mass_removal: bool = False, confirmed_by_id: int | None = None) -> dict:
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
