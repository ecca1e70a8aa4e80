"""A referral campaign's settings and tiers: checked, saved while a draft, and
checked again by the campaign core's review (its hooks)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from campaigns.models import Campaign
from campaigns.services.lifecycle import user_is_campaign_editor
from scrm.core.errors import DomainError

from ..models import (
    ReferralProgram,
    ReferralTier,
)


def program_of_campaign(campaign_id: int) -> ReferralProgram | None:
    return (
        ReferralProgram.objects.select_related("campaign", "group_pool")
        .filter(campaign_id=campaign_id, campaign__kind=Campaign.Kind.REFERRAL)
        .first()
    )


def program_validate(*, program: ReferralProgram, tiers: list[ReferralTier]) -> None:
    """A referral campaign's settings and tiers, checked before they are saved."""
    if program.campaign.kind != Campaign.Kind.REFERRAL:
        raise DomainError("invalid", _("请选择“老带新”类型的活动"), data={"field": "campaign"})
    if program.goal == ReferralProgram.Goal.JOINED_GROUP and program.group_pool_id is None:
        raise DomainError(
            "invalid", _("群裂变活动请选择邀请入群的群池"), data={"field": "group_pool"}
        )
    thresholds = [t.threshold for t in tiers]
    if len(set(thresholds)) != len(thresholds):
        raise DomainError("invalid", _("同一邀请人数只能设置一个奖励档位"))
    coupons = [t for t in tiers if t.kind == ReferralTier.Kind.COUPON]
    for tier in coupons:
        if tier.coupon_template is None or tier.coupon_template.campaign_id != program.campaign_id:
            raise DomainError("invalid", _("优惠券档位须选择本活动的优惠券模板"))
    limit = program.campaign.per_customer_limit
    if coupons and limit is not None and limit < len(coupons):
        raise DomainError(
            "invalid",
            _("活动“每位客户限领”（%(limit)s）少于优惠券档位数（%(n)s）")
            % {"limit": limit, "n": len(coupons)},
        )
    if any(t.kind == ReferralTier.Kind.RED_PACKET and not t.amount_fen for t in tiers):
        raise DomainError("invalid", _("红包档位须填写金额"))
    if any(t.kind == ReferralTier.Kind.GIFT and not t.gift_name.strip() for t in tiers):
        raise DomainError("invalid", _("礼品档位须填写礼品名称"))


def _require_draft_editor(actor, campaign: Campaign) -> None:
    if not user_is_campaign_editor(actor):
        raise DomainError("forbidden", _("只有运营人员可以编辑或运行活动"), status=403)
    if campaign.status != Campaign.Status.DRAFT:
        raise DomainError(
            "campaign_not_draft",
            _("只有草稿状态的活动可以修改；已提交的活动以审核为准"),
            status=409,
        )


@transaction.atomic
def program_save(
    *,
    actor,
    program: ReferralProgram,
    tiers: list[ReferralTier],
    deleted_tier_ids: list[int] = (),
) -> ReferralProgram:
    """Save a referral campaign's settings and tiers (only while the campaign is a draft:
    what compliance approved is what runs)."""
    campaign = Campaign.objects.select_for_update().get(pk=program.campaign_id)
    program.campaign = campaign
    _require_draft_editor(actor, campaign)
    kept = [t for t in tiers if t.pk not in set(deleted_tier_ids)]
    if program.pk:
        others = program.tiers.exclude(pk__in=[t.pk for t in kept if t.pk]).exclude(
            pk__in=list(deleted_tier_ids)
        )
        kept_all = kept + list(others)
    else:
        kept_all = kept
    program_validate(program=program, tiers=kept_all)
    program.save()
    if deleted_tier_ids:
        ReferralTier.objects.filter(program=program, pk__in=list(deleted_tier_ids)).delete()
    for tier in kept:
        tier.program = program
        tier.save()
    return program


def review_check(*, campaign: Campaign) -> None:
    """campaigns.hooks.review_checks: a referral campaign goes to compliance with its
    settings and at least one tier."""
    if campaign.kind != Campaign.Kind.REFERRAL:
        return
    program = ReferralProgram.objects.filter(campaign=campaign).first()
    if program is None:
        raise DomainError("no_referral", _("老带新活动还没有设置邀请规则"), status=409)
    tiers = list(program.tiers.select_related("coupon_template"))
    if not tiers:
        raise DomainError("no_tiers", _("老带新活动还没有奖励档位"), status=409)
    program.campaign = campaign
    program_validate(program=program, tiers=tiers)


def review_texts(*, campaign: Campaign) -> list[tuple[str, str]]:
    """campaigns.hooks.review_texts: the gift names customers see on the invite page."""
    if campaign.kind != Campaign.Kind.REFERRAL:
        return []
    return [
        (_("礼品档位「%(n)s 人」") % {"n": t.threshold}, t.gift_name)
        for t in ReferralTier.objects.filter(
            program__campaign=campaign, kind=ReferralTier.Kind.GIFT
        ).order_by("threshold")
    ]
