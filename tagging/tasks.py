"""Thin tasks for corp tags mirrored with WeCom; each says what happens on final failure."""

from __future__ import annotations

from celery import shared_task

from scrm.wecom.errors import WeComRetryableError

# Pushes to WeCom wait out rate limits and outages with backoff.
_WECOM_RETRY = {
    "ignore_result": True,
    "autoretry_for": (WeComRetryableError,),
    "retry_backoff": 2,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="tagging.tasks.corp_tags_sync", ignore_result=True)
def corp_tags_sync() -> dict:
    """Mirror every WeCom corp tag group/tag (full reconciliation).

    Final failure: no retry; the mirror is one transaction, so the tags stay as last
    mirrored, and the nightly reconcile's tag step mirrors them all again.
    """
    from scrm.wecom.adapter import wecom
    from scrm.wecom.client import triggered_by

    from .services import tag_groups_upsert_from_wecom

    with triggered_by("task:corp_tags_sync"):
        report = tag_groups_upsert_from_wecom(tag_groups=wecom.corp_tags(), full=True)
    return report.as_dict()


@shared_task(
    name="tagging.tasks.customer_tags_push",
    **_WECOM_RETRY,
)
def customer_tags_push(customer_id: int) -> int:
    """Send one customer's unsynced corp tags to WeCom (``mark_tag`` per relation).

    Final failure: when the retries run out (or WeCom refuses for good) the tags stay
    unsynced (``synced_at`` empty), and ``customer_tags_push_sweep`` sends them again
    every five minutes until WeCom takes them.
    """
    from scrm.wecom.client import triggered_by

    from .services import customer_tags_push as push

    with triggered_by("task:customer_tags_push"):
        return push(customer_id=customer_id)


@shared_task(
    name="tagging.tasks.customer_tags_remove_push",
    **_WECOM_RETRY,
)
def customer_tags_remove_push(customer_id: int, wecom_tag_ids: list[str]) -> int:
    """Take corp tags removed here off the customer in WeCom too.

    Final failure: the removal is given up (the rows here are already gone, so there
    is nothing for a sweep to find) and the worker logs the error; the tag then still
    hangs on the customer in WeCom, and the nightly reconcile mirrors it back here
    (source 企业微信), where ops see it and can remove it again.
    """
    from scrm.wecom.client import triggered_by

    from .services import customer_tags_remove_push as push

    with triggered_by("task:customer_tags_remove_push"):
        return push(customer_id=customer_id, wecom_tag_ids=wecom_tag_ids)


@shared_task(name="tagging.tasks.customer_tags_push_sweep", ignore_result=True)
def customer_tags_push_sweep() -> int:
    """Re-send pushes the broker lost: customers with tags still unsynced after a while.

    Final failure: no retry; the next run five minutes later finds the same customers.
    """
    from .services import customers_with_unsynced_tags

    ids = customers_with_unsynced_tags()
    for customer_id in ids:
        customer_tags_push.delay(customer_id)
    return len(ids)
