"""Thin tasks for intent scores; each says what happens on final failure."""

from __future__ import annotations

from celery import shared_task

from scrm.wecom.errors import WeComRetryableError


@shared_task(
    name="intent.customers_tags_push",
    ignore_result=True,
    autoretry_for=(WeComRetryableError,),
    retry_backoff=2,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def customers_tags_push(customer_ids: list[int], removals: dict | None = None) -> dict:
    """Push a batch of customers' new rule and level tags to WeCom (``mark_tag``), and
    take off there the level tags replaced here (``removals``).

    Final failure: the tags stay here with ``synced_at`` empty, and the tag core's
    five-minute sweep (``tagging.tasks.customer_tags_push_sweep``) and
    ``intent.levels_expire``'s sweep of unpushed level tags send them again; a removal
    given up leaves the tag in WeCom, where the nightly mirror brings it back here
    (source 企业微信) for ops to see.
    """
    from scrm.wecom.client import triggered_by

    from .services import customers_tags_push as push

    with triggered_by("task:intent_customers_tags_push"):
        return push(customer_ids=customer_ids, removals=removals)


@shared_task(name="intent.levels_expire", ignore_result=True)
def levels_expire() -> int:
    """Levels that decay has ended: new level, tag, expiry (only the due rows); then
    level tags WeCom has no id for yet are pushed again.

    Final failure: no retry; one run is one transaction, so the next run (every 15
    minutes) finds the same due rows.
    """
    from .services import level_tags_unpushed_sweep
    from .services import levels_expire as expire

    done = expire()
    level_tags_unpushed_sweep()
    return done
