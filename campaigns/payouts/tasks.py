"""Thin Celery tasks of the payout ledger."""

from __future__ import annotations

from celery import shared_task

from .services import payouts_pay_due


@shared_task(name="payouts.pay_due")
def pay_due() -> dict:
    """Pay the due entries of the ledger (the beat runs it every ``PAYOUTS_DISPATCH_EVERY_S``).

    Runs at most ``PAYOUTS_RUN_S``; what it did not reach, the next run does. If it dies
    (worker killed, lost task) nothing is lost: the entries it had claimed are taken
    back once their lease runs out, the channel is asked about them first, and they are
    sent again under the same bill number, which WeChat Pay pays at most once.
    """
    return payouts_pay_due()
