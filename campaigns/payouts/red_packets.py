"""Red-packet campaigns (D7): each member who joins the campaign's groups gets a packet,
paid N Chinese working days later if the conditions still hold on that day.

The campaign is an ordinary ``Campaign`` of kind ``red_packet`` (created, reviewed and
run through ``campaigns.services.lifecycle``) with a ``PayoutPolicy`` saying the amount,
the delay and the conditions. ``red_packet_on_member_joined`` is registered on
``groups.hooks.member_joined`` and runs in the transaction that records the join.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign
from campaigns.services.lifecycle import user_is_campaign_editor
from scrm.core.errors import DomainError

from .models import Payout, PayoutPolicy
from .services import CONDITIONS, payout_schedule

logger = logging.getLogger(__name__)

DEFAULT_CONDITIONS = ("group_member",)


def red_packet_validate(
    *, campaign, amount_fen, delay_workdays, conditions, daily_budget_fen
) -> None:
    """The rules of a red packet (the admin's form and the service share them)."""
    if campaign.kind != Campaign.Kind.RED_PACKET:
        raise DomainError("not_red_packet", _("只有红包活动可以设置红包"))
    if campaign.status != Campaign.Status.DRAFT:
        raise DomainError(
            "campaign_not_editable",
            _("只有草稿状态的活动可以修改，已提交的内容以审核为准"),
            status=409,
        )
    if not isinstance(amount_fen, int) or not (
        settings.PAYMENTS_MIN_FEN <= amount_fen <= settings.PAYMENTS_MAX_FEN
    ):
        raise DomainError(
            "amount_out_of_range",
            _("红包金额须在 %(min)s 元到 %(max)s 元之间")
            % {"min": settings.PAYMENTS_MIN_FEN / 100, "max": settings.PAYMENTS_MAX_FEN / 100},
            data={"field": "amount_fen"},
        )
    if not isinstance(delay_workdays, int) or not 0 <= delay_workdays <= 250:
        raise DomainError(
            "invalid_delay",
            _("延迟发放的工作日数须在 0 到 250 之间"),
            data={"field": "delay_workdays"},
        )
    unknown = set(conditions) - CONDITIONS
    if unknown:
        raise DomainError(
            "invalid_condition",
            _("未知的发放条件：%(names)s") % {"names": ", ".join(sorted(unknown))},
            data={"field": "conditions"},
        )
    if daily_budget_fen is not None and daily_budget_fen < amount_fen:
        raise DomainError(
            "invalid_daily_budget",
            _("每日预算不能少于一个红包的金额"),
            data={"field": "daily_budget_fen"},
        )


def red_packet_review_check(*, campaign) -> None:
    """A red-packet campaign goes to review (and is approved) only with its packet set."""
    if campaign.kind != Campaign.Kind.RED_PACKET:
        return
    policy = PayoutPolicy.objects.filter(campaign=campaign).first()
    if policy is None or policy.amount_fen <= 0:
        raise DomainError("no_red_packet", _("红包活动还没有设置红包金额"), status=409)


def red_packet_review_texts(*, campaign) -> list[tuple[str, str]]:
    """The packet's wishing and activity name reach customers: compliance sees them too."""
    policy = PayoutPolicy.objects.filter(campaign=campaign).first()
    if policy is None:
        return []
    return [(_("祝福语"), policy.wishing), (_("活动名称（红包）"), policy.act_name)]


def red_packet_configure(
    *,
    actor,
    campaign_id: int,
    amount_fen: int,
    delay_workdays: int = 5,
    conditions: Sequence[str] = DEFAULT_CONDITIONS,
    daily_budget_fen: int | None = None,
    wishing: str = "",
    act_name: str = "",
    sender_name: str = "",
) -> PayoutPolicy:
    """Set a draft red-packet campaign's packet; what compliance approves is what pays."""
    if actor is not None and not user_is_campaign_editor(actor):
        raise DomainError("forbidden", _("只有运营人员可以编辑或运行活动"), status=403)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None:
            raise DomainError("not_found", _("活动不存在"), status=404)
        conditions = list(dict.fromkeys(conditions))
        red_packet_validate(
            campaign=campaign,
            amount_fen=amount_fen,
            delay_workdays=delay_workdays,
            conditions=conditions,
            daily_budget_fen=daily_budget_fen,
        )
        policy, _created = PayoutPolicy.objects.update_or_create(
            campaign=campaign,
            defaults={
                "amount_fen": amount_fen,
                "delay_workdays": delay_workdays,
                "conditions": conditions,
                "daily_budget_fen": daily_budget_fen,
                "wishing": (wishing or "恭喜发财，大吉大利")[:64],
                "act_name": (act_name or campaign.title)[:32],
                "sender_name": sender_name[:64],
            },
        )
        return policy


# group id → (read at, campaigns): a sync of a 200-member group asks 200 times in a row.
_CACHE: dict[int, tuple[float, list]] = {}
CACHE_S = 2.0


def red_packet_campaigns_for(group, at) -> list[tuple[Campaign, PayoutPolicy]]:
    """Live red-packet campaigns whose audience holds ``group`` (its groups, pools or region);
    read at most every ``CACHE_S`` seconds per group and process."""
    cached = _CACHE.get(group.pk)
    if cached is not None and time.monotonic() - cached[0] < CACHE_S:
        return [(c, p) for c, p in cached[1] if c.starts_at <= at < c.ends_at]
    found = _campaigns_for(group, at)
    if len(_CACHE) > 10_000:
        _CACHE.clear()
    _CACHE[group.pk] = (time.monotonic(), found)
    return found


def red_packet_campaigns_forget() -> None:
    _CACHE.clear()


def _campaigns_for(group, at) -> list[tuple[Campaign, PayoutPolicy]]:
    audience = Q(audience_groups=group)
    if group.pool_id:
        audience |= Q(audience_pools=group.pool_id)
    if group.region_id:
        audience |= Q(audience_regions=group.region_id)
    campaigns = (
        Campaign.objects.filter(
            audience,
            kind=Campaign.Kind.RED_PACKET,
            status=Campaign.Status.LIVE,
            starts_at__lte=at,
            ends_at__gt=at,
            payout_policy__amount_fen__gt=0,
        )
        .select_related("payout_policy")
        .distinct()
    )
    return [(c, c.payout_policy) for c in campaigns]


def red_packet_on_member_joined(*, group, customer, joined_at=None, join_scene=None, state=""):
    """A member joined: schedule each matching campaign's packet, once per customer.

    A campaign out of budget pays no more packets (logged); the join itself is never
    refused because of a campaign."""
    now = timezone.now()
    scheduled = 0
    for campaign, policy in red_packet_campaigns_for(group, now):
        conditions = list(policy.conditions)
        if campaign.verified_only and "verified" not in conditions:
            conditions.append("verified")  # checked on the payout day: time to get verified
        staff = group.owner if "friend" in conditions else None
        if "friend" in conditions and staff is None:
            conditions.remove("friend")
        try:
            payout_schedule(
                campaign=campaign,
                customer=customer,
                amount_fen=policy.amount_fen,
                reason=Payout.Reason.RED_PACKET,
                source_key=f"red_packet:{campaign.pk}:{customer.pk}",
                delay_workdays=policy.delay_workdays,
                conditions=conditions,
                staff=staff,
                group=group,
                note=f"{group.chat_id} {state}".strip()[:200],
                now=now,
            )
            scheduled += 1
        except DomainError as exc:
            logger.info(
                "red packet not scheduled",
                extra={"campaign": campaign.pk, "customer": customer.pk, "code": exc.code},
            )
    return scheduled
