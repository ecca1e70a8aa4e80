"""Campaign actions as behaviour events: claims and redemptions by the periodic outbox
scan (the claim transaction does no such work), lottery draws and referral successes
in their own transactions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.lottery.services.draw import lottery_draw
from campaigns.services import claims
from campaigns.services.behaviour import CLAIMS_SCAN, coupon_events_scan
from campaigns.services.claims import coupon_claim
from campaigns.services.redemption import coupon_redeem
from campaigns.tasks import coupon_events_scan as scan_task
from tagging.behaviour.models import Event, Watermark
from tests.campaigns.factories import CampaignFactory, CouponTemplateFactory, MerchantFactory
from tests.factories import CustomerFactory
from tests.lottery.factories import LotteryFactory, PrizeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_campaign_configs():
    claims.campaign_config_forget()
    yield
    claims.campaign_config_forget()


def test_the_outbox_scan_records_each_claim_and_redemption_once_when_run_twice():
    campaign = CampaignFactory(budget_fen=100_000, per_customer_limit=None)
    template = CouponTemplateFactory(campaign=campaign, face_value_fen=2000)
    customers = [CustomerFactory() for _ in range(3)]
    coupons = [
        coupon_claim(customer_id=c.pk, campaign_id=campaign.pk).coupons[0] for c in customers
    ]
    assert not Event.objects.exists()  # the claim itself records nothing
    redemption = coupon_redeem(
        merchant=MerchantFactory(), code=coupons[0].code, amount_fen=20000
    ).redemption

    assert coupon_events_scan() == {"claimed": 3, "redeemed": 1}
    assert coupon_events_scan() == {"claimed": 0, "redeemed": 0}  # the overlap, again
    assert scan_task() == {"claimed": 0, "redeemed": 0}
    claimed = Event.objects.filter(type="coupon_claimed").order_by("customer_id")
    assert [(e.source, e.event_id, e.customer_id) for e in claimed] == [
        ("action", f"coupon_claimed:{c.pk}", c.customer_id)
        for c in sorted(coupons, key=lambda c: c.customer_id)
    ]
    assert claimed[0].properties == {
        "campaign": campaign.pk,
        "template": template.pk,
        "category": campaign.product_category,
        "source": "link",
    }
    redeemed = Event.objects.get(type="coupon_redeemed")
    assert redeemed.event_id == f"coupon_redeemed:{redemption.pk}"
    assert redeemed.customer_id == coupons[0].customer_id
    assert redeemed.properties["amount_fen"] == 20000
    assert redeemed.properties["merchant"] == redemption.merchant_id
    assert redeemed.properties["discount_fen"] == redemption.discount_fen


def test_a_claim_that_committed_after_the_scan_passed_its_time_is_still_found():
    campaign = CampaignFactory(budget_fen=100_000, per_customer_limit=None)
    CouponTemplateFactory(campaign=campaign)
    coupon = coupon_claim(
        customer_id=CustomerFactory().pk,
        campaign_id=campaign.pk,
        now=timezone.now() - timedelta(minutes=2),  # claimed then, committed only now
    ).coupons[0]
    Watermark.objects.create(name=CLAIMS_SCAN, at=timezone.now() - timedelta(minutes=1))
    assert coupon_events_scan()["claimed"] == 1
    assert Event.objects.get().event_id == f"coupon_claimed:{coupon.pk}"


def test_the_scan_walks_a_backlog_in_chunks(monkeypatch):
    from campaigns.services import behaviour

    monkeypatch.setattr(behaviour, "CHUNK", 2)
    campaign = CampaignFactory(budget_fen=1_000_000, per_customer_limit=None)
    CouponTemplateFactory(campaign=campaign)
    now = timezone.now()
    for _ in range(5):  # the same moment: the walk goes on by id within it
        coupon_claim(customer_id=CustomerFactory().pk, campaign_id=campaign.pk, now=now)
    assert coupon_events_scan()["claimed"] == 5
    assert Event.objects.filter(type="coupon_claimed").count() == 5


def test_a_lottery_draw_is_recorded_in_its_transaction():
    campaign = LotteryFactory(campaign__budget_fen=10_000).campaign
    prize = PrizeFactory(campaign=campaign, amount_fen=888, total_stock=3)
    customer = CustomerFactory()
    result = lottery_draw(customer_id=customer.pk, campaign_id=campaign.pk)
    event = Event.objects.get(type="lottery_drawn")
    assert (event.source, event.event_id, event.customer_id) == (
        "action",
        f"lottery_drawn:{result.draw.pk}",
        customer.pk,
    )
    assert event.properties == {
        "campaign": campaign.pk,
        "prize": prize.pk,
        "prize_kind": prize.kind,
        "won": True,
    }


def test_a_referral_that_reached_its_goal_is_the_inviters_event(wecom_sandbox, cast):
    from campaigns.referral.models import Invitation
    from tests.referral.conftest import code_of, referral_campaign, scan, scan_code

    wecom_sandbox.seed_staff("lina", "chenjing")
    program = referral_campaign()  # the goal: the friend adds the manager
    inviter, _f, _e = scan(wecom_sandbox, userid="lina", name="王老客")
    friend = scan_code(wecom_sandbox, code_of(program, inviter), "新朋友")
    invitation = Invitation.objects.get(invitee=friend)
    assert invitation.status == "succeeded"
    event = Event.objects.get(type="friend_invited")
    assert (event.event_id, event.customer_id) == (f"friend_invited:{invitation.pk}", inviter.pk)
    assert event.properties == {
        "program": program.pk,
        "campaign": program.campaign_id,
        "invitee": friend.pk,
        "depth": invitation.depth,
    }
    # Both adds were recorded as the customers' own friend_added events too.
    assert set(Event.objects.filter(type="friend_added").values_list("customer_id", flat=True)) == {
        inviter.pk,
        friend.pk,
    }
