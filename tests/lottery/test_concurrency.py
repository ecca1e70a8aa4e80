"""Draws under concurrency, over real HTTP against the web server as ``make run`` starts
it (gunicorn, several worker processes), on the test database (D7: the budget is never
exceeded, no prize's stock is ever overdrawn)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db.models import Sum
from django.utils import timezone

from campaigns.links import claim_token_make
from campaigns.lottery.models import Draw, Prize
from campaigns.lottery.services.draw import draw_replay
from campaigns.models import Campaign, Coupon, CouponTemplate
from campaigns.payouts.models import Payout
from contacts.models import Customer
from tests.campaigns.factories import CouponTemplateFactory
from tests.campaigns.test_concurrency import _burst, web  # noqa: F401  (the server fixture)
from tests.lottery.factories import LotteryFactory, PrizeFactory, gift, thanks

pytestmark = pytest.mark.django_db(transaction=True)

JSON_POST = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}


def _draw_request(customer_id: int, campaign_id: int, key: str):
    token = claim_token_make(customer_id=customer_id, campaign_id=campaign_id)
    return ("POST", f"/h5/lottery/{token}/", f"form_key={key}".encode(), JSON_POST)


def test_two_thousand_concurrent_draws_never_exceed_a_budget_of_three_hundred_prizes(web):  # noqa: F811
    """Every paid prize costs 1 yuan and the budget is 300 yuan: exactly 300 draws win,
    the budget ends used to the fen and never past it, and the cups (20 in stock, drawn
    often) run out at exactly 20; everyone else gets "thanks for taking part"."""
    campaign = LotteryFactory(
        draws_per_customer=1, draws_per_day=1, campaign__budget_fen=300 * 100
    ).campaign
    packet = PrizeFactory(
        campaign=campaign, name="1元红包", amount_fen=100, weight=50, total_stock=1000, position=1
    )
    cup = gift(campaign, cost=100, weight=30, total_stock=20, position=2)
    template = CouponTemplateFactory(
        campaign=campaign, title="1元立减券", face_value_fen=100, min_spend_fen=0, total_stock=1000
    )
    coupon = PrizeFactory(
        campaign=campaign,
        name="1元立减券",
        kind=Prize.Kind.COUPON,
        coupon_template=template,
        amount_fen=None,
        total_stock=1000,
        weight=20,
        position=3,
    )
    nothing = thanks(campaign, weight=60, position=4)
    now = timezone.now()
    customers = Customer.objects.bulk_create(
        [
            Customer(external_userid=f"wmDRAW{i:05d}", name=f"客户{i}", first_added_at=now)
            for i in range(2000)
        ]
    )
    requests = [_draw_request(c.pk, campaign.pk, f"k{c.pk}") for c in customers]
    answers = _burst(web, requests, threads=48)

    assert Counter(status for status, _body in answers) == {201: 2000}
    won = [body for _status, body in answers if body["won"]]
    assert len(won) == 300
    campaign.refresh_from_db()
    assert campaign.budget_committed_fen == campaign.budget_fen == 30000
    draws = Draw.objects.filter(campaign=campaign)
    assert draws.count() == 2000
    assert draws.aggregate(s=Sum("cost_fen"))["s"] == 30000
    for prize in (packet, cup, coupon, nothing):
        prize.refresh_from_db()
        drawn = draws.filter(prize=prize).count()
        if prize.total_stock is not None:
            assert prize.stock_remaining >= 0
            assert drawn == prize.total_stock - prize.stock_remaining, prize.name
    assert cup.stock_remaining == 0 and draws.filter(prize=cup).count() == 20
    assert Payout.objects.filter(campaign=campaign).count() == draws.filter(prize=packet).count()
    assert Payout.objects.filter(campaign=campaign).aggregate(s=Sum("amount_fen"))["s"] == (
        100 * draws.filter(prize=packet).count()
    )
    assert set(Payout.objects.values_list("source_key", flat=True)) == {
        f"lottery:draw:{pk}" for pk in draws.filter(prize=packet).values_list("pk", flat=True)
    }
    coupons = Coupon.objects.filter(campaign=campaign)
    assert coupons.count() == draws.filter(prize=coupon).count()
    assert CouponTemplate.objects.get(pk=template.pk).stock_remaining == 1000 - coupons.count()
    assert Campaign.objects.filter(budget_committed_fen__gt=30000, pk=campaign.pk).count() == 0
    # Each customer drew once; and every draw, raced or not, replays from its record.
    assert draws.values("customer").distinct().count() == 2000
    sample = list(draws.order_by("?").values_list("pk", flat=True)[:200])
    assert all(draw_replay(draw_id=pk).matches for pk in sample)


def test_one_customers_fifty_concurrent_draws_with_a_limit_of_three_draw_three(web):  # noqa: F811
    campaign = LotteryFactory(draws_per_customer=3, draws_per_day=None).campaign
    thanks(campaign)
    customer = Customer.objects.create(
        external_userid="wmSAME", name="同一客户", first_added_at=timezone.now()
    )
    requests = [_draw_request(customer.pk, campaign.pk, f"tap-{i}") for i in range(50)]
    answers = _burst(web, requests, threads=50)
    outcomes = Counter(status if status == 201 else body["code"] for status, body in answers)
    assert outcomes == {201: 3, "limit_reached": 47}
    assert Draw.objects.filter(customer=customer).count() == 3
