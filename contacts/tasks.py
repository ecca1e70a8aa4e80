"""Thin tasks for customers mirrored from WeCom and for the bank-file import."""

from __future__ import annotations

from celery import shared_task

from scrm.wecom.errors import WeComRetryableError


@shared_task(name="contacts.tasks.customer_refresh", ignore_result=True)
def customer_refresh(external_userid: str) -> None:
    """Re-read one customer (and their follow relations) from WeCom.

    Final failure: no retry; the customer stays as last synced, and the nightly
    reconcile with WeCom (or the next callback about them) reads them again."""
    from scrm.wecom.adapter import wecom
    from scrm.wecom.client import triggered_by

    from .services import customer_sync_from_wecom

    with triggered_by("task:customer_refresh"):
        customer_sync_from_wecom(result=wecom.customer_get(external_userid))


@shared_task(name="contacts.tasks.channel_code_push", ignore_result=True)
def channel_code_push(channel_id: int) -> None:
    """Create/update (or withdraw) one channel's contact way in WeCom.

    Final failure: no retry; the push records what WeCom holds after the failed call
    (the channel keeps its last pushed code, or none), the worker logs the error, and
    saving the channel in the admin pushes it again."""
    from scrm.wecom.client import triggered_by

    from .channels import channel_code_push as push
    from .models import ChannelCode

    if not ChannelCode.objects.filter(pk=channel_id).exists():
        return
    with triggered_by("task:channel_code_push"):
        push(channel_id=channel_id)


@shared_task(name="contacts.tasks.staff_directory_sync", ignore_result=True)
def staff_directory_sync() -> dict:
    """Mirror the staff directory from WeCom.

    Final failure: no retry; the directory stays as last synced and the next nightly run
    reads it all again."""
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
    """Settle waiting customer transfers from WeCom's ``transfer_result``.

    Final failure: after five retries the transfers stay waiting, and the next hourly
    poll asks WeCom again."""
    from scrm.wecom.client import triggered_by

    from .staff import transfer_results_sync, transfers_open_pairs

    settled = 0
    with triggered_by("task:transfer_results_poll"):
        for from_id, to_id in transfers_open_pairs():
            settled += sum(transfer_results_sync(from_staff_id=from_id, to_staff_id=to_id).values())
    return settled


@shared_task(name="contacts.tasks.bank_import_run", ignore_result=True)
def bank_import_run(job_id: int) -> str:
    """Import the file of one bank-import job (claims it: queued → running).

    Final failure: no retry (a bad file stays bad): the import rolls back, the job is
    marked failed with the error, its file is kept, and ops retry it from the admin
    (the "重新导入" action on the job list). A worker that dies mid-run leaves the job
    running without a heartbeat; ``bank_import_jobs_sweep`` queues it again. A job that
    is gone or not queued (a duplicate delivery) is skipped quietly."""
    from .bank_jobs import bank_import_job_run

    job = bank_import_job_run(job_id=job_id)
    return job.status if job is not None else "skipped"


@shared_task(name="contacts.tasks.bank_import_jobs_sweep", ignore_result=True)
def bank_import_jobs_sweep() -> int:
    """Send bank-import jobs to a worker again: queued ones whose task was lost and
    running ones whose worker died (no heartbeat).

    Final failure: no retry; the jobs stay as they are and the next run a minute later
    finds them again."""
    from .bank_jobs import bank_import_jobs_sweep as sweep

    return len(sweep())
