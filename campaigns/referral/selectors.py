"""Reads for the invite page, the admin and reports."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
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


def programs_with_figures(qs: QuerySet[ReferralProgram]) -> QuerySet[ReferralProgram]:
    """Each referral campaign with its inviters (codes), invitations by status and rewards
    paid (``fig_*``, sortable in the admin)."""

    def count(model, **where):
        rows = (
            model.objects.filter(program=OuterRef("pk"), **where)
            .order_by()
            .values("program")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(rows, output_field=IntegerField()), 0)

    return qs.annotate(
        fig_inviters=count(InviteCode),
        fig_succeeded=count(Invitation, status=Invitation.Status.SUCCEEDED),
        fig_refused=count(Invitation, status=Invitation.Status.REFUSED),
        fig_lapsed=count(Invitation, status=Invitation.Status.LAPSED),
        fig_rewards=count(ReferralReward, status=ReferralReward.Status.GRANTED),
    )


def invitations_for_admin() -> QuerySet[Invitation]:
    return Invitation.objects.select_related(
        "program__campaign", "inviter", "invitee", "staff", "group"
    )


def rewards_for_admin() -> QuerySet[ReferralReward]:
    return ReferralReward.objects.select_related(
        "program__campaign", "tier__coupon_template", "inviter", "coupon", "payout"
    )
