"""Factories for the lottery tests: a live lottery campaign, its settings and prizes."""

from __future__ import annotations

import factory

from campaigns.lottery.models import Lottery, Prize
from campaigns.models import Campaign
from tests.campaigns.factories import CampaignFactory, CouponTemplateFactory


class LotteryCampaignFactory(CampaignFactory):
    name = factory.Sequence(lambda n: f"周五抽奖{n}")
    title = "周五幸运大抽奖"
    rules_text = "每位客户每天可抽一次，奖品数量有限，抽完即止。"
    kind = Campaign.Kind.LOTTERY
    budget_fen = 1_000_000
    per_customer_limit = None


class LotteryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lottery

    campaign = factory.SubFactory(LotteryCampaignFactory)
    everyone_wins = False
    draws_per_customer = None
    draws_per_day = None


class PrizeFactory(factory.django.DjangoModelFactory):
    """A 5-yuan red packet, weight 10, stock 100."""

    class Meta:
        model = Prize

    campaign = factory.SubFactory(LotteryCampaignFactory)
    name = factory.Sequence(lambda n: f"5元红包{n}")
    kind = Prize.Kind.RED_PACKET
    weight = 10
    total_stock = 100
    stock_remaining = factory.LazyAttribute(lambda o: o.total_stock)
    amount_fen = 500
    cost_fen = factory.LazyAttribute(
        lambda o: (
            o.amount_fen
            if o.kind == Prize.Kind.RED_PACKET
            else o.gift_cost_fen
            if o.kind == Prize.Kind.GIFT
            else (o.coupon_template.cost_cap_fen * o.coupon_template.instalments)
            if o.kind == Prize.Kind.COUPON
            else 0
        )
    )
    gift_cost_fen = None
    coupon_template = None


def thanks(campaign, weight: int = 50, **kw) -> Prize:
    return PrizeFactory(
        campaign=campaign,
        name="谢谢参与",
        kind=Prize.Kind.THANKS,
        weight=weight,
        total_stock=None,
        amount_fen=None,
        **kw,
    )


def coupon_prize(campaign, *, stock: int = 50, weight: int = 10, **kw) -> Prize:
    template = CouponTemplateFactory(campaign=campaign, total_stock=stock, title="火锅满100减20")
    return PrizeFactory(
        campaign=campaign,
        name="火锅满100减20券",
        kind=Prize.Kind.COUPON,
        coupon_template=template,
        amount_fen=None,
        total_stock=stock,
        weight=weight,
        **kw,
    )


def gift(campaign, *, cost: int = 3000, **kw) -> Prize:
    return PrizeFactory(
        campaign=campaign,
        name="定制保温杯",
        kind=Prize.Kind.GIFT,
        amount_fen=None,
        gift_cost_fen=cost,
        **kw,
    )
