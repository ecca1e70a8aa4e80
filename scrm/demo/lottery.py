"""Demo: a live lottery for the Shenzhen groups (D7), made through the services like a
bank's ops and compliance would: a coupon of the demo merchant, a red packet, a gift and
"thanks for taking part" under a budget, one draw a day; and a customer's draw link."""

from __future__ import annotations

from datetime import datetime, timedelta

DEMO_LOTTERY = "深圳福利群·周五幸运大抽奖"


def lottery_demo(*, users: dict, now: datetime, customer=None, say=print):
    """The demo lottery (made once, live), and ``customer``'s draw link printed."""
    from campaigns.links import claim_token_make
    from campaigns.lottery.services import prizes
    from campaigns.models import Campaign, Merchant
    from campaigns.services import lifecycle
    from groups.models import Region
    from scrm.demo.seed import DEMO_MERCHANT

    ops, compliance = users["ops"], users["compliance"]
    campaign = Campaign.objects.filter(name=DEMO_LOTTERY, kind=Campaign.Kind.LOTTERY).first()
    if campaign is None:
        region = Region.objects.get(code="440300")
        merchant = Merchant.objects.filter(name=DEMO_MERCHANT).first()
        campaign = prizes.lottery_create(
            actor=ops,
            data={
                "name": DEMO_LOTTERY,
                "title": "周五幸运大抽奖",
                "rules_text": "深圳福利群成员专享，每人每天可抽 1 次，活动期间共 5 次；"
                "奖品数量有限，抽完即止。现金红包 1 个工作日内发放到微信零钱。",
                "starts_at": now - timedelta(days=1),
                "ends_at": now + timedelta(days=30),
                "budget_fen": 200_000,
                "verified_only": False,
                "audience_regions": [region],
            },
            lottery={"everyone_wins": False, "draws_per_day": 1, "draws_per_customer": 5},
        )
        template = lifecycle.template_create(
            actor=ops,
            campaign_id=campaign.pk,
            data={
                "title": "老街火锅满100减30",
                "description": "抽奖专享，领取后 7 天内到店使用",
                "kind": "amount_off",
                "face_value_fen": 3000,
                "min_spend_fen": 10000,
                "validity": "relative",
                "valid_days": 7,
                "total_stock": 200,
                "merchants": [merchant] if merchant else [],
            },
        )
        table = [
            {"name": "8.88元现金红包", "kind": "red_packet", "weight": 10, "total_stock": 100,
             "amount_fen": 888},
            {"name": "老街火锅满100减30券", "kind": "coupon", "weight": 30, "total_stock": 200,
             "coupon_template": template, "description": "领取后 7 天内到店使用"},
            {"name": "银行定制保温杯", "kind": "gift", "weight": 2, "total_stock": 20,
             "gift_cost_fen": 3500, "description": "客户经理联系您到网点领取"},
            {"name": "谢谢参与", "kind": "thanks", "weight": 58},
        ]  # fmt: skip
        for position, row in enumerate(table):
            prizes.prize_save(
                actor=ops, campaign_id=campaign.pk, data={**row, "position": position}
            )
    if campaign.status == Campaign.Status.DRAFT:
        campaign = lifecycle.campaign_submit(actor=ops, campaign_id=campaign.pk)
    if campaign.status == Campaign.Status.PENDING:
        campaign = lifecycle.campaign_approve(
            actor=compliance, campaign_id=campaign.pk, comment="演示抽奖，奖品与规则符合要求"
        )
    if campaign.status == Campaign.Status.APPROVED:
        campaign = lifecycle.campaign_go_live(actor=ops, campaign_id=campaign.pk)
    if customer is not None:
        from django.conf import settings
        from django.urls import reverse

        token = claim_token_make(customer_id=customer.pk, campaign_id=campaign.pk)
        path = reverse("lottery:h5-draw", args=[token])
        say(f"a demo customer's draw link: {settings.SCRM_PUBLIC_URL.rstrip('/')}{path}")
    return campaign
