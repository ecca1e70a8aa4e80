"""Thin Celery tasks of the campaigns app."""

from __future__ import annotations

from celery import shared_task

from .services.expiry import coupons_expire
from .services.lifecycle import campaigns_end_due


@shared_task(name="campaigns.expiry_sweep")
def expiry_sweep() -> dict:
    """Expire coupons past their validity, then end campaigns past their end time.

    On failure nothing is lost: both steps only pick up what is due, so the next run
    (every few minutes) redoes whatever this one did not finish.
    """
    return {"coupons_expired": coupons_expire(), "campaigns_ended": campaigns_end_due()}

