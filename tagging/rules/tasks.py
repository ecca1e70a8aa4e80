"""Thin tasks for tag rules; each says what happens on final failure."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="tag_rules.backfill", ignore_result=True, max_retries=0)
def rule_backfill(rule_id: int) -> bool:
    """Evaluate one chunk of history for a rule switched on, then queue the next.

    Final failure: no retry; the cursor stays where the last committed chunk left it
    and ``tag_rules.backfills_sweep`` (every five minutes) resumes from there.
    """
    from .services import tag_rule_backfill_step

    more = tag_rule_backfill_step(rule_id=rule_id)
    if more:
        rule_backfill.delay(rule_id)
    return more


@shared_task(name="tag_rules.backfills_sweep", ignore_result=True)
def backfills_sweep() -> int:
    """Resume back-fills whose chain was lost (broker outage, dead worker).

    Final failure: no retry; the next run finds the same rules (a chunk run twice
    changes nothing).
    """
    from .services import backfills_pending

    ids = backfills_pending()
    for rule_id in ids:
        rule_backfill.delay(rule_id)
    return len(ids)


@shared_task(name="tag_rules.stale_remove", ignore_result=True)
def stale_remove() -> int:
    """Daily: take off rule tags with no matching event for the rule's stale days.

    Final failure: no retry; each chunk commits on its own, and the next day's run
    finds whatever is left.
    """
    from .services import tags_stale_remove

    return tags_stale_remove()
