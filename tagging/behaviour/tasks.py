"""Thin tasks for behaviour events; each says what happens on final failure."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="behaviour.batch_process", ignore_result=True, max_retries=0)
def batch_process(batch_id: int) -> bool:
    """Evaluate one batch of new events with the tag rules and intent scores.

    Final failure: no retry here; the batch stays unprocessed in the database and
    ``behaviour.batches_sweep`` sends it again a minute later, until it succeeds.
    """
    from .services import batch_process as process

    return process(batch_id=batch_id)


@shared_task(name="behaviour.batches_sweep", ignore_result=True)
def batches_sweep() -> int:
    """Re-send batches whose task the broker lost or whose worker died.

    Final failure: no retry; the next run a minute later finds the same batches.
    """
    from .services import batches_pending

    ids = batches_pending()
    for batch_id in ids:
        batch_process.delay(batch_id)
    return len(ids)
