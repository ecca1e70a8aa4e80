"""Thin Celery tasks for SOP: the minute tick, expansion, pushes and result syncs.

Each says what happens when it fails for good; every one of them leaves its rows
in a state the tick (every minute) or a sweep picks up again.
"""

from __future__ import annotations

from celery import shared_task

from scrm.wecom.errors import WeComRetryableError

from . import push, services


@shared_task(name="sop.tick", ignore_result=True)
def sop_tick_task() -> int:
    """Record the slots that fell due and hand each ready occurrence to a worker.

    Final failure: no retry; the next tick a minute later looks back two hours, so
    it records and hands out whatever this one missed.
    """
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
    """Expand one occurrence into deliveries, group them into pushes, send each push.

    Final failure: the occurrence stays as far as it got, and the tick hands it out
    again: still pending, claimed by a worker that died (after the claim times out),
    or expanded without pushes. Pushes made but not handed out are the push sweep's.
    """
    push_ids = services.sop_occurrence_process(occurrence_id=occurrence_id)
    for push_id in push_ids:
        sop_push_task.delay(push_id)
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
    """Create one owner's mass message in WeCom.

    Final failure: the push counts its attempts and fails itself, with the error on
    the push and its deliveries, at the last one (before Celery's retries run out).
    A retry the broker loses leaves the push pending, and a worker that dies mid-call
    leaves it calling: the push sweep hands both out again.
    """
    return push.sop_push_send(push_id=push_id)


@shared_task(name="sop.push_sweep", ignore_result=True)
def sop_push_sweep_task() -> int:
    """Hand pushes whose task was lost (broker outage, killed worker) to a worker again.

    Final failure: no retry; the next sweep a minute later finds the same pushes.
    """
    ids = push.sop_pushes_stuck()
    for push_id in ids:
        sop_push_task.delay(push_id)
    return len(ids)


@shared_task(name="sop.results_sync", ignore_result=True)
def sop_results_sync_task() -> int:
    """Fetch send results of recent pushes that still wait for owners to confirm.

    Final failure: no retry; the next run ten minutes later asks about the same pushes.
    """
    ids = push.sop_pushes_awaiting_results()
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
    """Read one push's per-group results from WeCom.

    Final failure: the push stays awaiting confirmation and the next results sync
    asks again; three days after the call it is no longer asked about, and its
    deliveries keep the last status WeCom reported.
    """
    push.sop_push_results_sync(push_id=push_id)
