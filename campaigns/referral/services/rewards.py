"""Tiered rewards: recorded once per tier, coupons granted at once, red packets and gifts
settled on their day (counted again; to the payout ledger, to fulfilment, or cancelled)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Coupon
from campaigns.payouts.services import payout_schedule
from campaigns.services.claims import (
    ClaimRefused,
    coupon_claim,
    customer_facts,
)
from contacts.models import Customer
from scrm.core.errors import DomainError
from scrm.core.workdays import add_workdays

from ..models import (
    Invitation,
    InviteCode,
    ReferralProgram,
    ReferralReward,
    ReferralTier,
)
from .common import invitations_lapse, invitee_present, local_today, successful_invites


def _coupon_grant(reward: ReferralReward, now: datetime) -> None:
    tier = reward.tier
    try:
        with transaction.atomic():
            result = coupon_claim(
                customer_id=reward.inviter_id,
                campaign_id=reward.program.campaign_id,
                template_id=tier.coupon_template_id,
                source=Coupon.Source.API,
                now=now,
            )
    except ClaimRefused as exc:
        ReferralReward.objects.filter(pk=reward.pk).update(
            status=ReferralReward.Status.FAILED, settled_at=now, note=exc.message[:200]
        )
        return
    ReferralReward.objects.filter(pk=reward.pk).update(
        status=ReferralReward.Status.GRANTED, settled_at=now, coupon=result.coupons[0]
    )


@transaction.atomic
def rewards_evaluate(
    *, program: ReferralProgram, inviter_id: int, now: datetime | None = None
) -> list[ReferralReward]:
    """Record the tiers the inviter has reached (each once); coupons are granted now,
    red packets and gifts wait for their day. A cancelled tier reached again is armed
    again. Returns the rewards recorded or armed by this call."""
    now = now or timezone.now()
    count = successful_invites(program=program, inviter_id=inviter_id)
    due_on = add_workdays(local_today(now), program.reward_delay_workdays)
    out = []
    for tier in program.tiers.filter(threshold__lte=count).order_by("threshold"):
        reward, created = ReferralReward.objects.get_or_create(
            program=program,
            inviter_id=inviter_id,
            tier=tier,
            defaults={"reached_at": now, "due_on": due_on},
        )
        if created:
            reward.program, reward.tier = program, tier
            if tier.kind == ReferralTier.Kind.COUPON:
                _coupon_grant(reward, now)
            out.append(reward)
        elif reward.status == ReferralReward.Status.CANCELLED:
            armed = ReferralReward.objects.filter(
                pk=reward.pk, status=ReferralReward.Status.CANCELLED
            ).update(
                status=ReferralReward.Status.WAITING,
                reached_at=now,
                due_on=due_on,
                settled_at=None,
                note="",
            )
            if armed:
                out.append(reward)
    return out


def _recheck(program: ReferralProgram, inviter_id: int, now: datetime) -> int:
    """Lapse the inviter's successful invites whose friend is gone though no callback
    said so (a lost callback, a relation ended by the nightly reconcile)."""
    lapsed = 0
    rows = Invitation.objects.select_related("program").filter(
        program=program, inviter_id=inviter_id, status=Invitation.Status.SUCCEEDED
    )
    for invitation in rows:
        if not invitee_present(invitation):
            reason = (
                Invitation.Lapse.LEFT_GROUP
                if program.is_group_fission
                else Invitation.Lapse.REMOVED_MANAGER
            )
            lapsed += invitations_lapse(
                invitations=Invitation.objects.filter(pk=invitation.pk), reason=reason, at=now
            )
    return lapsed


def reward_settle(*, reward_id: int, now: datetime | None = None) -> str | None:
    """A waiting reward on its day: counted again, then paid (to the ledger or to
    fulfilment) or cancelled. Returns the new status, or None if it was not waiting."""
    now = now or timezone.now()
    with transaction.atomic():
        reward = (
            ReferralReward.objects.select_for_update(skip_locked=True)
            .select_related("program__campaign", "tier", "inviter")
            .filter(pk=reward_id, status=ReferralReward.Status.WAITING)
            .first()
        )
        if reward is None:
            return None
        program, tier = reward.program, reward.tier
        _recheck(program, reward.inviter_id, now)
        count = successful_invites(program=program, inviter_id=reward.inviter_id)
        facts = customer_facts(customer_id=reward.inviter_id, config=None)
        if facts is None or facts.blocked or facts.status == Customer.Status.ERASED:
            # Blacklisted (or erased) since the tier was reached: nothing is paid.
            reward.status = ReferralReward.Status.CANCELLED
            reward.note = _("邀请人已被列入黑名单")
        elif count < tier.threshold:
            reward.status = ReferralReward.Status.CANCELLED
            reward.note = _("发放日成功邀请 %(n)s 人，不足 %(t)s 人") % {
                "n": count,
                "t": tier.threshold,
            }
        elif tier.kind == ReferralTier.Kind.RED_PACKET:
            code = InviteCode.objects.filter(program=program, inviter_id=reward.inviter_id).first()
            staff = code.staff if code is not None else None
            try:
                reward.payout = payout_schedule(
                    campaign=program.campaign,
                    customer=reward.inviter,
                    amount_fen=tier.amount_fen,
                    reason="referral_reward",
                    source_key=f"referral:tier:{reward.pk}",
                    delay_workdays=0,
                    conditions=("friend",) if staff is not None else (),
                    staff=staff,
                    note=_("老带新：成功邀请 %(t)s 人") % {"t": tier.threshold},
                    now=now,
                )
                reward.status = ReferralReward.Status.GRANTED
            except DomainError as exc:
                reward.status, reward.note = ReferralReward.Status.FAILED, exc.message
        else:
            reward.status = ReferralReward.Status.GRANTED
            reward.note = _("待发放礼品：%(gift)s") % {"gift": tier.gift_name}
        reward.settled_at = now
        reward.note = str(reward.note)[:200]
        reward.save(update_fields=["status", "note", "settled_at", "payout"])
        return reward.status


def rewards_settle_due(*, now: datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Every waiting reward whose day has come (a periodic job)."""
    now = now or timezone.now()
    ids = list(
        ReferralReward.objects.filter(
            status=ReferralReward.Status.WAITING, due_on__lte=local_today(now)
        )
        .order_by("due_on", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    counts: dict[str, int] = {}
    for reward_id in ids:
        status = reward_settle(reward_id=reward_id, now=now)
        if status:
            counts[status] = counts.get(status, 0) + 1
    return counts


@transaction.atomic
def gift_fulfil(*, reward_id: int, actor=None, now: datetime | None = None) -> bool:
    """Ops handed the gift over."""
    return bool(
        ReferralReward.objects.filter(
            pk=reward_id,
            status=ReferralReward.Status.GRANTED,
            tier__kind=ReferralTier.Kind.GIFT,
            gift_fulfilled_at__isnull=True,
        ).update(gift_fulfilled_at=now or timezone.now())
    )
