"""Thin Celery tasks of the campaigns app."""

from __future__ import annotations

from celery import shared_task

from scrm.wecom.errors import WeComRetryableError

from .services.announce import announcement_send as _announcement_send
from .services.announce import announcements_sweep as _announcements_sweep
from .services.expiry import coupons_expire
from .services.lifecycle import campaigns_end_due


@shared_task(name="campaigns.expiry_sweep")
def expiry_sweep() -> dict:
    """Expire coupons past their validity, then end campaigns past their end time.

    On failure nothing is lost: both steps only pick up what is due, so the next run
    (every few minutes) redoes whatever this one did not finish.
    """
    return {"coupons_expired": coupons_expire(), "campaigns_ended": campaigns_end_due()}


@shared_task(
    name="campaigns.announcement_send",
    autoretry_for=(WeComRetryableError,),
    retry_backoff=30,
    retry_jitter=True,
    max_retries=5,
)
def announcement_send(announcement_id: int) -> str:
    """Send one campaign announcement. When the retries run out the row is back to
    pending and ``announcements_sweep`` sends it again later."""
    return _announcement_send(announcement_id=announcement_id)


@shared_task(name="campaigns.announcements_sweep")
def announcements_sweep() -> dict:
    """Resend pending announcements whose task was lost; mark calls that never came
    back as failed. A failed run changes nothing; the next run does the same."""
    return _announcements_sweep()


@shared_task(name="campaigns.coupon_events_scan", ignore_result=True)
def coupon_events_scan() -> dict:
    """Record coupons claimed and redeemed since the last scan as behaviour events.

    Final failure: no retry; the watermark has not moved past what was recorded, and
    the next run a minute later reads from there again (event ids make it harmless).
    """
    from .services.behaviour import coupon_events_scan as scan

    return scan()
