"""Thin Celery tasks for SOP: the minute tick, expansion, pushes and result syncs."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from scrm.wecom.errors import WeComRetryableError

from . import push, services
from .models import SopOccurrence, SopPush


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
    occurrence = SopOccurrence.objects.filter(pk=occurrence_id).first()
    if occurrence is None:
        return 0  # the plan was deleted: nothing to do
    services.sop_occurrence_expand(occurrence_id=occurrence_id)
    occurrence.refresh_from_db()
    if occurrence.status != SopOccurrence.Status.EXPANDED:
        return 0
    push_ids = push.sop_pushes_create(occurrence=occurrence)
    transaction.on_commit(lambda: [sop_push_task.delay(i) for i in push_ids])
    return len(push_ids)


@shared_task(
    bind=True,
    name="sop.push",
    ignore_result=True,
    autoretry_for=(WeComRetryableError,),
    retry_backoff=2,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=push.MAX_ATTEMPTS,
)
def sop_push_task(self, push_id: int) -> str | None:
    return push.sop_push_send(push_id=push_id)


@shared_task(name="sop.push_sweep", ignore_result=True)
def sop_push_sweep_task() -> int:
    """Hand pushes whose task was lost (broker outage, killed worker) to a worker again."""
    ids = push.sop_pushes_stuck()
    for push_id in ids:
        sop_push_task.delay(push_id)
    return len(ids)


@shared_task(name="sop.results_sync", ignore_result=True)
def sop_results_sync_task() -> int:
    """Fetch send results of recent pushes that still wait for owners to confirm."""
    since = timezone.now() - timedelta(days=3)
    ids = SopPush.objects.filter(
        status=SopPush.Status.AWAITING_CONFIRM, called_at__gte=since
    ).values_list("id", flat=True)
    for push_id in ids:
        sop_push_results_task.delay(push_id)
    return len(ids)


@shared_task(
    name="sop.push_results",
    ignore_result=True,
    autoretry_for=(WeComRetryableError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def sop_push_results_task(push_id: int) -> None:
    if SopPush.objects.filter(pk=push_id).exists():
        push.sop_push_results_sync(push_id=push_id)
