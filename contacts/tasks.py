"""Thin tasks for customers mirrored from WeCom."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="contacts.tasks.customer_refresh", ignore_result=True)
def customer_refresh(external_userid: str) -> None:
    """Re-read one customer (and their follow relations) from WeCom."""
    from scrm.wecom.adapter import wecom
    from scrm.wecom.client import triggered_by

    from .services import customer_sync_from_wecom

    with triggered_by("task:customer_refresh"):
        customer_sync_from_wecom(result=wecom.customer_get(external_userid))
