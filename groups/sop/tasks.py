"""Thin Celery tasks for SOP: the minute tick and the per-occurrence expansion."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="sop.tick", ignore_result=True)
def sop_tick_task() -> int:
    ids = services.sop_tick()
    for occurrence_id in ids:
        sop_expand_task.delay(occurrence_id)
    return len(ids)


@shared_task(
    name="sop.expand",
    ignore_result=True,
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def sop_expand_task(occurrence_id: int) -> int:
    from .models import SopOccurrence

    if not SopOccurrence.objects.filter(pk=occurrence_id).exists():
        return 0  # the occurrence is gone (plan deleted): nothing to do
    return services.sop_occurrence_expand(occurrence_id=occurrence_id)
