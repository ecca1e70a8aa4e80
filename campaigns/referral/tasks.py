"""Thin Celery tasks of referral."""

from __future__ import annotations

from celery import shared_task

from .services import invitations_from_relations, invitations_reconcile, rewards_settle_due
from .spreaders import key_spreaders_refresh


@shared_task(name="referral.rewards_settle")
def rewards_settle() -> dict:
    """Adds through invite codes whose callback was lost are attributed, pending
    invitations whose goal is met by now succeed, and waiting red-packet and gift
    rewards whose day has come: counted again, then to the
    payout ledger or fulfilment, or cancelled. On failure nothing is lost: each reward
    is settled in its own transaction and only waiting ones are picked up, so the next
    run (hourly) settles whatever this one did not."""
    return {
        "invitations_recorded": invitations_from_relations(),
        "invitations_succeeded": invitations_reconcile(),
        **rewards_settle_due(),
    }


@shared_task(name="referral.key_spreaders_refresh")
def key_spreaders_refresh_task(top: int = 20) -> dict:
    """Retag the top spreaders and refresh their segment. A failed run (WeCom refusing
    the tag) leaves the previous tag and segment as they were; the next run redoes it."""
    result = key_spreaders_refresh(top=top)
    return {"tagged": result.tagged, "untagged": result.untagged, "members": result.members}
