"""Reads for the invite page, the admin and reports."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from campaigns.money import fen_display

from .models import Invitation, InviteCode, ReferralProgram, ReferralReward, ReferralTier


def tier_reward_text(tier: ReferralTier) -> str:
    if tier.kind == ReferralTier.Kind.COUPON:
        return tier.coupon_template.title if tier.coupon_template else _("优惠券")
    if tier.kind == ReferralTier.Kind.RED_PACKET:
        return _("%(yuan)s 元红包") % {"yuan": fen_display(tier.amount_fen or 0)}
    return tier.gift_name


@dataclass(frozen=True)
class TierLine:
    tier: ReferralTier
    text: str
    reached: bool
    status: str  # the reward's status, "" when not reached


@dataclass(frozen=True)
class InvitePage:
    program: ReferralProgram
    code: InviteCode
    successful: int
    pending: int
    tiers: list[TierLine]


def invite_page(*, program: ReferralProgram, code: InviteCode) -> InvitePage:
    counts = Invitation.objects.filter(program=program, inviter_id=code.inviter_id).aggregate(
        ok=Count("pk", filter=Q(status=Invitation.Status.SUCCEEDED)),
        pending=Count("pk", filter=Q(status=Invitation.Status.PENDING)),
    )
    rewards = dict(
        ReferralReward.objects.filter(program=program, inviter_id=code.inviter_id).values_list(
            "tier_id", "status"
        )
    )
    tiers = [
        TierLine(
            tier=tier,
            text=tier_reward_text(tier),
            reached=tier.pk in rewards,
            status=rewards.get(tier.pk, ""),
        )
        for tier in program.tiers.select_related("coupon_template").order_by("threshold")
    ]
    return InvitePage(
        program=program,
        code=code,
        successful=counts["ok"],
        pending=counts["pending"],
        tiers=tiers,
    )


def invitations_for_admin() -> QuerySet[Invitation]:
    return Invitation.objects.select_related(
        "program__campaign", "inviter", "invitee", "staff", "group"
    )


def rewards_for_admin() -> QuerySet[ReferralReward]:
    return ReferralReward.objects.select_related(
        "program__campaign", "tier__coupon_template", "inviter", "coupon", "payout"
    )
