"""The draw (D7): prizes by weight within their stock and the budget, everyone-wins mode,
per-day and per-campaign limits, the campaign core's gates, and a record that replays."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.lottery.models import Draw, DrawCounter, Prize
from campaigns.lottery.services.draw import draw_replay, lottery_draw
from campaigns.models import Blacklist, Campaign, ClaimRefusal, Coupon, CouponTemplate
from campaigns.payouts.models import Payout
from campaigns.services.claims import ClaimRefused, coupon_claim
from tests.campaigns.conftest import verified_customer
from tests.factories import CustomerFactory
from tests.lottery.factories import LotteryFactory, PrizeFactory, coupon_prize, gift, thanks

pytestmark = pytest.mark.django_db


def lottery(**kw):
    return LotteryFactory(**kw).campaign


def roll_to(monkeypatch, pick):
    """Make the random number what ``pick(total)`` says (the rule is tested, not chance)."""
    monkeypatch.setattr(secrets, "randbelow", lambda total: pick(total))


def test_a_red_packet_prize_takes_its_amount_from_the_budget_and_schedules_a_payout():
    campaign = lottery(campaign__budget_fen=10_000)
    prize = PrizeFactory(campaign=campaign, amount_fen=888, total_stock=3)
    customer = CustomerFactory()
    result = lottery_draw(customer_id=customer.pk, campaign_id=campaign.pk)
    assert result.prize.id == prize.pk and result.draw.won
    payout = Payout.objects.get()
    assert (payout.amount_fen, payout.reason, payout.source_key) == (
        888,
        "lottery_prize",
        f"lottery:draw:{result.draw.pk}",
    )
    assert payout.budget_reserved and payout.customer_id == customer.pk
    assert Draw.objects.get().payout_id == payout.pk
    campaign.refresh_from_db()
    prize.refresh_from_db()
    assert campaign.budget_committed_fen == 888  # taken once, by the draw
    assert prize.stock_remaining == 2


def test_a_coupon_prize_issues_a_real_coupon_of_its_template_holding_its_cost():
    campaign = lottery(campaign__budget_fen=10_000)
    prize = coupon_prize(campaign, stock=5)
    customer = CustomerFactory()
    result = lottery_draw(customer_id=customer.pk, campaign_id=campaign.pk)
    [coupon] = result.coupons
    stored = Coupon.objects.get(customer=customer)
    assert stored.pk == coupon.pk == result.draw.coupon_id
    assert stored.template_id == prize.coupon_template_id and stored.reserved_fen == 2000
    assert CouponTemplate.objects.get(pk=prize.coupon_template_id).stock_remaining == 4
    assert Prize.objects.get(pk=prize.pk).stock_remaining == 4
    assert Campaign.objects.get(pk=campaign.pk).budget_committed_fen == 2000


def test_a_gift_prize_holds_its_declared_cost_and_thanks_costs_nothing(monkeypatch):
    campaign = lottery(campaign__budget_fen=10_000)
    cup = gift(campaign, cost=3000, weight=1, position=1)
    nothing = thanks(campaign, weight=1, position=2)
    roll_to(monkeypatch, lambda total: 0)
    assert (
        lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk).prize.id == cup.pk
    )
    roll_to(monkeypatch, lambda total: total - 1)
    result = lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk)
    assert result.prize.id == nothing.pk and not result.draw.won and result.draw.cost_fen == 0
    assert Campaign.objects.get(pk=campaign.pk).budget_committed_fen == 3000
    assert not Payout.objects.exists()


def test_a_prize_that_ran_out_gives_its_weight_to_the_others(monkeypatch):
    """Weights 60/30/10; the 60 runs out: the others are drawn 3:1 of the 40 left."""
    campaign = lottery()
    big = PrizeFactory(campaign=campaign, weight=60, total_stock=1, position=1, name="大奖")
    mid = PrizeFactory(campaign=campaign, weight=30, total_stock=500, position=2, name="中奖")
    small = thanks(campaign, weight=10, position=3)
    roll_to(monkeypatch, lambda total: 0)
    first = lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk)
    assert first.prize.id == big.pk and first.draw.total_weight == 100
    seen = []
    for roll, expected in ((0, mid), (29, mid), (30, small), (39, small)):
        roll_to(monkeypatch, lambda total, roll=roll: seen.append(total) or roll)
        result = lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk)
        assert result.prize.id == expected.pk
        assert result.draw.inputs["eligible"] == [[mid.pk, 30, 500], [small.pk, 10, 0]]
        assert result.draw.inputs["excluded"] == {str(big.pk): "out_of_stock"}
    assert seen == [40, 40, 40, 40]
    # With the real random numbers the ratio of what is left holds (3:1, loosely).
    monkeypatch.undo()
    counts = Counter(
        lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk).prize.id
        for _ in range(400)
    )
    assert counts[big.pk] == 0
    assert 240 <= counts[mid.pk] <= 360 and counts[mid.pk] + counts[small.pk] == 400


def test_a_prize_the_budget_cannot_cover_is_never_drawn(monkeypatch):
    campaign = lottery(campaign__budget_fen=1_200)
    packet = PrizeFactory(campaign=campaign, amount_fen=500, weight=1000, position=1)
    small = PrizeFactory(campaign=campaign, amount_fen=100, weight=1, position=2, name="1元红包")
    roll_to(monkeypatch, lambda total: 0)
    got = [
        lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk).prize.id
        for _ in range(4)
    ]
    # 500 + 500 = 1000 leaves 200: the 5-yuan packet no longer fits, the 1-yuan does twice.
    assert got == [packet.pk, packet.pk, small.pk, small.pk]
    last = Draw.objects.order_by("pk").last()
    assert last.inputs["excluded"] == {str(packet.pk): "budget"}
    assert last.inputs["budget_fen"] == 1200 and last.inputs["committed_fen"] == 1100
    with pytest.raises(ClaimRefused) as info:
        lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk)
    assert info.value.code == "out_of_stock"
    campaign.refresh_from_db()
    assert campaign.budget_committed_fen == 1200 <= campaign.budget_fen
    assert sum(Payout.objects.values_list("amount_fen", flat=True)) == 1200


def test_everyone_wins_never_draws_thanks_and_stops_when_the_consolation_is_gone():
    campaign = lottery(everyone_wins=True, campaign__budget_fen=100_000)
    PrizeFactory(campaign=campaign, weight=1, total_stock=10, name="88元红包", amount_fen=8800)
    consolation = coupon_prize(campaign, stock=3, weight=99, is_consolation=True)
    thanks(campaign, weight=1000)  # refused at review; even here it is never drawn
    results = [
        lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk) for _ in range(3)
    ]
    assert all(r.draw.won and r.prize.kind != Prize.Kind.THANKS for r in results)
    assert Prize.objects.get(pk=consolation.pk).stock_remaining <= 3
    while Prize.objects.get(pk=consolation.pk).stock_remaining:
        lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk)
    with pytest.raises(ClaimRefused) as info:
        lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk)
    assert (info.value.code, info.value.reason) == ("out_of_stock", "consolation")
    assert Draw.objects.filter(won=False).count() == 0


def test_per_day_limit_holds_for_the_day_and_opens_again_the_next_day():
    campaign = lottery(draws_per_day=1, draws_per_customer=None)
    thanks(campaign)
    customer = CustomerFactory()
    now = timezone.now()
    lottery_draw(customer_id=customer.pk, campaign_id=campaign.pk, now=now)
    with pytest.raises(ClaimRefused) as info:
        lottery_draw(customer_id=customer.pk, campaign_id=campaign.pk, now=now)
    assert (info.value.code, info.value.reason) == ("limit_reached", "daily")
    assert info.value.message == "今日抽奖次数已用完，请明天再来"
    lottery_draw(customer_id=customer.pk, campaign_id=campaign.pk, now=now + timedelta(days=1))
    assert Draw.objects.filter(customer=customer).count() == 2
    lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk, now=now)


def test_per_campaign_limit_holds_across_days_and_a_refusal_takes_nothing():
    campaign = lottery(draws_per_day=None, draws_per_customer=2)
    prize = PrizeFactory(campaign=campaign, total_stock=10)
    customer = CustomerFactory()
    now = timezone.now()
    for day in range(2):
        lottery_draw(
            customer_id=customer.pk, campaign_id=campaign.pk, now=now + timedelta(days=day)
        )
    with pytest.raises(ClaimRefused) as info:
        lottery_draw(customer_id=customer.pk, campaign_id=campaign.pk, now=now + timedelta(days=5))
    assert (info.value.code, info.value.reason) == ("limit_reached", "campaign")
    assert Prize.objects.get(pk=prize.pk).stock_remaining == 8
    assert DrawCounter.objects.get(key=f"l{campaign.pk}:u{customer.pk}").n == 2
    refusal = ClaimRefusal.objects.get(customer=customer)
    assert (refusal.source, refusal.code, refusal.reason) == (
        "lottery",
        "limit_reached",
        "campaign",
    )


def test_a_refused_draw_undoes_the_limit_counters_it_bumped():
    campaign = lottery(draws_per_day=1, draws_per_customer=1)
    PrizeFactory(campaign=campaign, total_stock=1)
    first, second = CustomerFactory(), CustomerFactory()
    lottery_draw(customer_id=first.pk, campaign_id=campaign.pk)
    with pytest.raises(ClaimRefused) as info:
        lottery_draw(customer_id=second.pk, campaign_id=campaign.pk)
    assert info.value.code == "out_of_stock"
    assert not DrawCounter.objects.filter(key__startswith=f"l{campaign.pk}:u{second.pk}").exists()


def test_the_campaign_core_gates_apply_to_draws():
    campaign = lottery(campaign__verified_only=True)
    thanks(campaign)
    unverified = CustomerFactory()
    with pytest.raises(ClaimRefused) as info:
        lottery_draw(customer_id=unverified.pk, campaign_id=campaign.pk)
    assert (info.value.code, info.value.reason) == ("not_eligible", "unverified")
    verified = verified_customer("13900139000")
    lottery_draw(customer_id=verified.pk, campaign_id=campaign.pk)
    Blacklist.objects.create(kind=Blacklist.Kind.CUSTOMER, customer=verified, reason="羊毛党")
    with pytest.raises(ClaimRefused) as info:
        lottery_draw(customer_id=verified.pk, campaign_id=campaign.pk)
    assert info.value.code == "blocked"
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.PAUSED)
    with pytest.raises(ClaimRefused) as info:
        lottery_draw(customer_id=verified_customer("13700137000").pk, campaign_id=campaign.pk)
    assert info.value.code == "campaign_not_live"


def test_velocity_limits_of_the_campaign_count_draws():
    campaign = lottery(campaign__velocity_ip_per_hour=2)
    thanks(campaign)
    for _ in range(2):
        lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk, ip="10.0.0.9")
    with pytest.raises(ClaimRefused) as info:
        lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk, ip="10.0.0.9")
    assert (info.value.code, info.value.reason) == ("blocked", "velocity_ip")


def test_a_lotterys_coupons_cannot_be_claimed_directly():
    campaign = lottery()
    prize = coupon_prize(campaign)
    with pytest.raises(ClaimRefused):
        coupon_claim(
            customer_id=CustomerFactory().pk,
            campaign_id=campaign.pk,
            template_id=prize.coupon_template_id,
        )
    assert not Coupon.objects.exists()


def test_a_repeated_request_key_returns_the_first_draw_and_draws_nothing():
    campaign = lottery()
    PrizeFactory(campaign=campaign, total_stock=10)
    customer = CustomerFactory()
    first = lottery_draw(customer_id=customer.pk, campaign_id=campaign.pk, request_key="tap-1")
    again = lottery_draw(customer_id=customer.pk, campaign_id=campaign.pk, request_key="tap-1")
    assert again.replayed and again.draw.pk == first.draw.pk
    assert Draw.objects.count() == 1 and Payout.objects.count() == 1


def test_a_draw_replays_from_its_record():
    """An auditor replays why a customer won: the recorded stock and budget give the same
    drawable prizes and weights, the recorded number gives the same prize."""
    campaign = lottery(campaign__budget_fen=2_000)
    PrizeFactory(campaign=campaign, weight=5, total_stock=2, amount_fen=1000, position=1)
    coupon_prize(campaign, stock=3, weight=3, position=2)
    thanks(campaign, weight=2, position=3)
    draws = [
        lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk).draw
        for _ in range(12)
    ]
    for draw in draws:
        replay = draw_replay(draw_id=draw.pk)
        assert replay.matches, (draw.inputs, replay)
        assert replay.eligible == draw.inputs["eligible"]
    # The record is what decides: another number, or another stock seen, gives another answer.
    draw = next(d for d in draws if len(d.inputs["eligible"]) > 1)
    start, other = 0, None
    for prize_id, weight, _cost in draw.inputs["eligible"]:
        if prize_id != draw.prize_id and other is None:
            other = start  # the first number of another prize's band
        start += weight
    Draw.objects.filter(pk=draw.pk).update(roll=other)
    assert not draw_replay(draw_id=draw.pk).matches


def test_a_won_coupon_that_expires_unused_gives_its_cost_back_to_the_budget():
    from campaigns.services.expiry import coupons_expire

    campaign = lottery(campaign__budget_fen=2_000)
    coupon_prize(campaign, stock=2)
    first = lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk)
    with pytest.raises(ClaimRefused) as info:  # the budget is held by the first coupon
        lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk)
    assert info.value.code == "out_of_stock"
    Coupon.objects.filter(pk=first.draw.coupon_id).update(
        valid_from=timezone.now() - timedelta(days=8),
        valid_until=timezone.now() - timedelta(seconds=1),
    )
    assert coupons_expire() == 1
    assert Campaign.objects.get(pk=campaign.pk).budget_committed_fen == 0
    again = lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk)
    assert again.coupons and Campaign.objects.get(pk=campaign.pk).budget_committed_fen == 2000
