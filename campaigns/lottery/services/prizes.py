"""A lottery's settings and prize table: drafted by ops while the campaign is a draft,
checked again when it goes to compliance review (D7).

What a prize costs the budget is fixed here: a red packet its amount, a coupon its
template's largest possible cost over every instalment, a gift its declared cost,
"thanks for taking part" nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from campaigns.models import Campaign, CouponTemplate
from campaigns.services import lifecycle
from scrm.core.errors import DomainError

from ..models import Lottery, Prize

LOTTERY_FIELDS = ("everyone_wins", "draws_per_customer", "draws_per_day")
PRIZE_FIELDS = (
    "position",
    "name",
    "description",
    "kind",
    "weight",
    "total_stock",
    "coupon_template",
    "amount_fen",
    "gift_cost_fen",
    "is_consolation",
)
RED_PACKET_MIN_FEN = 100  # WeChat Pay's cash red packet: 1 to 200 yuan each
RED_PACKET_MAX_FEN = 20000


def _invalid(field: str, message: str) -> DomainError:
    return DomainError("invalid", message, data={"field": field})


def prize_cost_fen(*, kind: str, template: CouponTemplate | None, amount_fen, gift_cost_fen) -> int:
    if kind == Prize.Kind.COUPON and template is not None:
        return template.cost_cap_fen * template.instalments
    if kind == Prize.Kind.RED_PACKET:
        return int(amount_fen or 0)
    if kind == Prize.Kind.GIFT:
        return int(gift_cost_fen or 0)
    return 0


def lottery_validate(data: Mapping[str, Any]) -> None:
    for name in ("draws_per_customer", "draws_per_day"):
        value = data.get(name)
        if value is not None and value < 1:
            raise _invalid(name, _("抽奖次数至少为 1，不限请留空"))
    per_customer, per_day = data.get("draws_per_customer"), data.get("draws_per_day")
    if per_customer is not None and per_day is not None and per_day > per_customer:
        raise _invalid("draws_per_day", _("每日抽奖次数不能多于总抽奖次数"))


def prize_validate(data: Mapping[str, Any], *, campaign_id: int) -> None:
    """One row of the prize table on its own (the table as a whole: ``lottery_check``)."""
    kind = data.get("kind")
    if not (data.get("name") or "").strip():
        raise _invalid("name", _("请填写奖品名称"))
    if kind not in Prize.Kind.values:
        raise _invalid("kind", _("请选择奖品类型"))
    weight = data.get("weight")
    if not weight or weight < 1:
        raise _invalid("weight", _("权重至少为 1"))
    stock = data.get("total_stock")
    if kind != Prize.Kind.THANKS and not stock:
        raise _invalid("total_stock", _("请填写奖品库存（至少为 1）"))
    if stock is not None and stock < 1:
        raise _invalid("total_stock", _("库存至少为 1，不限请留空"))
    template = data.get("coupon_template")
    if kind == Prize.Kind.COUPON:
        if template is None:
            raise _invalid("coupon_template", _("优惠券奖品须选择优惠券模板"))
        if template.campaign_id != campaign_id:
            raise _invalid("coupon_template", _("只能使用本活动的优惠券模板"))
        if template.daily_stock is not None:
            raise _invalid("coupon_template", _("作为奖品的优惠券模板不能设置每日库存"))
    elif template is not None:
        raise _invalid("coupon_template", _("只有优惠券奖品可以选择优惠券模板"))
    amount = data.get("amount_fen")
    if kind == Prize.Kind.RED_PACKET:
        if amount is None or not RED_PACKET_MIN_FEN <= amount <= RED_PACKET_MAX_FEN:
            raise _invalid("amount_fen", _("红包金额须在 1 元到 200 元之间（100 到 20000 分）"))
    elif amount:
        raise _invalid("amount_fen", _("只有红包奖品可以填写红包金额"))
    gift_cost = data.get("gift_cost_fen")
    if kind == Prize.Kind.GIFT:
        if not gift_cost:
            raise _invalid("gift_cost_fen", _("实物礼品须填写成本（用于控制预算）"))
    elif gift_cost:
        raise _invalid("gift_cost_fen", _("只有实物礼品可以填写礼品成本"))


def lottery_check(campaign: Campaign) -> None:
    """The prize table as a whole, before compliance sees it and when they approve it."""
    lottery = Lottery.objects.filter(campaign=campaign).first()
    if lottery is None:
        raise DomainError("no_lottery", _("请先设置抽奖规则"), status=409)
    lottery_validate({f: getattr(lottery, f) for f in LOTTERY_FIELDS})
    if campaign.budget_fen is None:
        raise _invalid("budget_fen", _("抽奖活动须设置预算"))
    prizes = list(Prize.objects.filter(campaign=campaign).select_related("coupon_template"))
    if not any(p.kind != Prize.Kind.THANKS for p in prizes):
        raise DomainError("no_prizes", _("抽奖活动至少要有一个奖品"), status=409)
    per_template: dict[int, int] = defaultdict(int)
    for prize in prizes:
        prize_validate({f: getattr(prize, f) for f in PRIZE_FIELDS}, campaign_id=campaign.pk)
        cost = prize_cost_fen(
            kind=prize.kind,
            template=prize.coupon_template,
            amount_fen=prize.amount_fen,
            gift_cost_fen=prize.gift_cost_fen,
        )
        if cost != prize.cost_fen:
            raise DomainError(
                "prize_cost_changed",
                _("奖品「%(p)s」的优惠券模板已修改，请重新保存该奖品") % {"p": prize.name},
                status=409,
            )
        if prize.coupon_template_id is not None:
            per_template[prize.coupon_template_id] += prize.total_stock or 0
    for template in CouponTemplate.objects.filter(pk__in=per_template):
        if per_template[template.pk] > template.total_stock:
            raise DomainError(
                "prize_stock_exceeds_template",
                _("使用优惠券模板「%(t)s」的奖品库存之和超过了模板的总库存")
                % {"t": template.title},
                status=409,
            )
    consolation = [p for p in prizes if p.is_consolation]
    if lottery.everyone_wins:
        if len(consolation) != 1 or consolation[0].kind == Prize.Kind.THANKS:
            raise DomainError(
                "no_consolation", _("人人有奖模式须设置一个保底奖（不能是谢谢参与）"), status=409
            )
        if any(p.kind == Prize.Kind.THANKS for p in prizes):
            raise DomainError(
                "thanks_in_everyone_wins", _("人人有奖模式下不能设置“谢谢参与”"), status=409
            )
    elif consolation:
        raise DomainError(
            "consolation_without_everyone_wins", _("保底奖仅用于人人有奖模式"), status=409
        )


def lottery_review_checks(*, campaign: Campaign) -> None:
    """Registered on ``campaigns.hooks.review_checks``."""
    if campaign.kind == Campaign.Kind.LOTTERY:
        lottery_check(campaign)


def lottery_review_texts(*, campaign: Campaign) -> list[tuple[str, str]]:
    """Registered on ``campaigns.hooks.review_texts``: prize names and descriptions."""
    if campaign.kind != Campaign.Kind.LOTTERY:
        return []
    texts = []
    for prize in Prize.objects.filter(campaign=campaign).order_by("position", "pk"):
        texts.append((_("奖品名称「%(p)s」") % {"p": prize.name}, prize.name))
        texts.append((_("奖品「%(p)s」的说明") % {"p": prize.name}, prize.description))
    return texts


# --------------------------------------------------------------------------- drafts


@transaction.atomic
def lottery_create(
    *, actor, data: Mapping[str, Any], lottery: Mapping[str, Any] | None = None
) -> Campaign:
    """A lottery campaign (a draft) with its settings."""
    campaign = lifecycle.campaign_create(actor=actor, data={**data, "kind": Campaign.Kind.LOTTERY})
    lottery_settings_save(actor=actor, campaign_id=campaign.pk, data=lottery or {})
    return campaign


@transaction.atomic
def lottery_settings_save(*, actor, campaign_id: int, data: Mapping[str, Any]) -> Lottery:
    lifecycle._require_editor(actor)
    campaign = lifecycle._locked(campaign_id)
    lifecycle._require_draft(campaign)
    if campaign.kind != Campaign.Kind.LOTTERY:
        raise DomainError("not_a_lottery", _("该活动不是抽奖活动"), status=409)
    lottery = Lottery.objects.filter(campaign=campaign).first() or Lottery(campaign=campaign)
    for name in LOTTERY_FIELDS:
        if name in data:
            setattr(lottery, name, data[name])
    lottery_validate({f: getattr(lottery, f) for f in LOTTERY_FIELDS})
    lottery.save()
    return lottery


@transaction.atomic
def prize_save(
    *, actor, campaign_id: int, data: Mapping[str, Any], prize_id: int | None = None
) -> Prize:
    """Add or change one prize of a draft lottery; its stock starts full."""
    lifecycle._require_editor(actor)
    campaign = lifecycle._locked(campaign_id)
    lifecycle._require_draft(campaign)
    if campaign.kind != Campaign.Kind.LOTTERY:
        raise DomainError("not_a_lottery", _("该活动不是抽奖活动"), status=409)
    if prize_id is None:
        prize = Prize(campaign=campaign)
    else:
        prize = Prize.objects.filter(pk=prize_id, campaign=campaign).first()
        if prize is None:
            raise DomainError("not_found", _("奖品不存在"), status=404)
    for name in PRIZE_FIELDS:
        if name in data:
            setattr(prize, name, data[name])
    prize.name = (prize.name or "").strip()
    prize.description = (prize.description or "").strip()
    prize_validate({f: getattr(prize, f) for f in PRIZE_FIELDS}, campaign_id=campaign.pk)
    prize.is_consolation = bool(prize.is_consolation)
    if prize.is_consolation:
        others = Prize.objects.filter(campaign=campaign, is_consolation=True)
        if prize.pk:
            others = others.exclude(pk=prize.pk)
        if others.exists():
            raise _invalid("is_consolation", _("每个抽奖活动只能有一个保底奖"))
    prize.cost_fen = prize_cost_fen(
        kind=prize.kind,
        template=prize.coupon_template,
        amount_fen=prize.amount_fen,
        gift_cost_fen=prize.gift_cost_fen,
    )
    prize.stock_remaining = prize.total_stock  # a draft has no draws yet
    prize.save()
    return prize


@transaction.atomic
def prize_delete(*, actor, prize_id: int) -> None:
    lifecycle._require_editor(actor)
    prize = Prize.objects.filter(pk=prize_id).first()
    if prize is None:
        raise DomainError("not_found", _("奖品不存在"), status=404)
    lifecycle._require_draft(lifecycle._locked(prize.campaign_id))
    prize.delete()
