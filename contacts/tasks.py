"""Thin tasks for customers mirrored from WeCom."""

from __future__ import annotations

from celery import shared_task

from scrm.wecom.errors import WeComRetryableError


@shared_task(name="contacts.tasks.customer_refresh", ignore_result=True)
def customer_refresh(external_userid: str) -> None:
    """Re-read one customer (and their follow relations) from WeCom."""
    from scrm.wecom.adapter import wecom
    from scrm.wecom.client import triggered_by

    from .services import customer_sync_from_wecom

    with triggered_by("task:customer_refresh"):
        customer_sync_from_wecom(result=wecom.customer_get(external_userid))


@shared_task(name="contacts.tasks.channel_code_push", ignore_result=True)
def channel_code_push(channel_id: int) -> None:
    """Create/update (or withdraw) one channel's contact way in WeCom."""
    from scrm.wecom.client import triggered_by

    from .channels import channel_code_push as push
    from .models import ChannelCode

    if not ChannelCode.objects.filter(pk=channel_id).exists():
        return
    with triggered_by("task:channel_code_push"):
        push(channel_id=channel_id)


@shared_task(name="contacts.tasks.staff_directory_sync", ignore_result=True)
def staff_directory_sync() -> dict:
    """Mirror the staff directory from WeCom."""
    from scrm.wecom.client import triggered_by

    from .staff import staff_directory_sync as sync

    with triggered_by("task:staff_directory_sync"):
        return sync().as_dict()


@shared_task(
    name="contacts.tasks.transfer_results_poll",
    ignore_result=True,
    autoretry_for=(WeComRetryableError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def transfer_results_poll() -> int:
    """Settle waiting customer transfers from WeCom's ``transfer_result``."""
    from scrm.wecom.client import triggered_by

    from .staff import transfer_results_sync, transfers_open_pairs

    settled = 0
    with triggered_by("task:transfer_results_poll"):
        for from_id, to_id in transfers_open_pairs():
            settled += sum(transfer_results_sync(from_staff_id=from_id, to_staff_id=to_id).values())
    return settled
