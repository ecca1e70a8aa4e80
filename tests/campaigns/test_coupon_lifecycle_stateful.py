"""A property-based test of the coupon life cycle (claim, redeem, reverse, expire,
time passing): whatever the order, the system never reaches an impossible state and
always agrees with a simple model of the rules (D7)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Count, Q
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from campaigns.models import Campaign, ClaimCounter, Coupon, CouponTemplate, Redemption
from campaigns.services.claims import SHANGHAI, ClaimRefused, coupon_claim
from campaigns.services.expiry import coupons_expire
from campaigns.services.redemption import coupon_redeem, redemption_reverse
from scrm.core.errors import DomainError
from tests.campaigns.factories import CampaignFactory, CouponTemplateFactory, MerchantFactory
from tests.factories import CustomerFactory

FACE, MIN_SPEND, STOCK, DAILY, LIMIT = 2000, 10000, 6, 4, 2
BUDGET = 5 * FACE  # runs out before the stock
WINDOW_H = 6  # reversal window


class CouponLifeCycle(RuleBasedStateMachine):
    coupons = Bundle("coupons")
    redemptions = Bundle("redemptions")

    @initialize()
    def start(self):
        self.now = timezone.now().replace(microsecond=0)
        self.campaign = CampaignFactory(
            budget_fen=BUDGET,
            per_customer_limit=LIMIT,
            starts_at=self.now - timedelta(hours=1),
            ends_at=self.now + timedelta(days=20),
            reversal_window_minutes=WINDOW_H * 60,
        )
        self.template = CouponTemplateFactory(
            campaign=self.campaign,
            face_value_fen=FACE,
            min_spend_fen=MIN_SPEND,
            total_stock=STOCK,
            daily_stock=DAILY,
            valid_days=2,
        )
        self.customers = [CustomerFactory() for _ in range(3)]
        self.merchant = MerchantFactory()
        # The model: what the rules say should be.
        self.status: dict[int, str] = {}
        self.until: dict[int, object] = {}
        self.owner: dict[int, int] = {}
        self.claims_by: dict[int, int] = {c.pk: 0 for c in self.customers}
        self.claims_on_day: dict[object, int] = {}
        self.committed = 0
        self.standing: dict[int, tuple[int, object]] = {}  # redemption -> (coupon, at)

    # --- rules ---------------------------------------------------------------------

    @rule(target=coupons, who=st.integers(0, 2))
    def claim(self, who):
        customer = self.customers[who]
        day = self.now.astimezone(SHANGHAI).date()
        issued = len(self.status)
        if self.now >= self.campaign.ends_at:
            expected = "campaign_not_live"
        elif self.claims_by[customer.pk] >= LIMIT:
            expected = "limit_reached"
        elif (
            issued >= STOCK
            or self.claims_on_day.get(day, 0) >= DAILY
            or self.committed + FACE > BUDGET
        ):
            expected = "out_of_stock"
        else:
            expected = "ok"
        try:
            [coupon] = coupon_claim(
                customer_id=customer.pk, campaign_id=self.campaign.pk, now=self.now
            ).coupons
        except ClaimRefused as refusal:
            assert refusal.code == expected, (refusal.code, refusal.reason, expected)
            return None
        assert expected == "ok"
        self.status[coupon.pk] = "claimed"
        self.until[coupon.pk] = coupon.valid_until
        self.owner[coupon.pk] = customer.pk
        self.claims_by[customer.pk] += 1
        self.claims_on_day[day] = self.claims_on_day.get(day, 0) + 1
        self.committed += FACE
        return coupon.pk

    @rule(target=redemptions, coupon=coupons, amount=st.sampled_from([5000, 10000, 25000]))
    def redeem(self, coupon, amount):
        if coupon is None:
            return None
        status = self.status[coupon]
        if status == "redeemed":
            expected = "already_redeemed"
        elif status == "expired" or self.now >= self.until[coupon]:
            expected = "expired"
        elif amount < MIN_SPEND:
            expected = "below_minimum"
        else:
            expected = "ok"
        code = Coupon.objects.values_list("code", flat=True).get(pk=coupon)
        try:
            result = coupon_redeem(
                merchant=self.merchant, code=code, amount_fen=amount, now=self.now
            )
        except DomainError as exc:
            assert exc.code == expected, (exc.code, expected)
            return None
        assert expected == "ok", expected
        assert result.redemption.discount_fen == min(FACE, amount)
        self.status[coupon] = "redeemed"
        self.standing[result.redemption.pk] = (coupon, self.now)
        return result.redemption.pk

    @rule(redemption=redemptions)
    def reverse(self, redemption):
        if redemption is None:
            return
        if redemption not in self.standing:
            expected = "already_reversed"
        elif self.now - self.standing[redemption][1] > timedelta(hours=WINDOW_H):
            expected = "reversal_window_passed"
        else:
            expected = "ok"
        try:
            result = redemption_reverse(
                merchant=self.merchant, redemption_id=redemption, now=self.now
            )
        except DomainError as exc:
            assert exc.code == expected, (exc.code, expected)
            return
        assert expected == "ok", expected
        coupon, _at = self.standing.pop(redemption)
        assert result.coupon.pk == coupon
        self.status[coupon] = "claimed"

    @rule()
    def expire(self):
        coupons_expire(now=self.now)
        for pk, status in self.status.items():
            if status == "claimed" and self.until[pk] <= self.now:
                self.status[pk] = "expired"
                self.committed -= FACE

    @rule(hours=st.sampled_from([1, 5, 13, 30, 200]))
    def time_passes(self, hours):
        self.now += timedelta(hours=hours)

    # --- invariants -------------------------------------------------------------------

    @invariant()
    def the_database_agrees_with_the_model(self):
        if not hasattr(self, "template"):
            return
        mine = Coupon.objects.filter(template=self.template)
        assert dict(mine.values_list("pk", "status")) == self.status
        template = CouponTemplate.objects.get(pk=self.template.pk)
        assert 0 <= template.stock_remaining == STOCK - len(self.status)
        campaign = Campaign.objects.get(pk=self.campaign.pk)
        assert 0 <= campaign.budget_committed_fen == self.committed <= BUDGET

    @invariant()
    def no_impossible_redemption_state(self):
        if not hasattr(self, "template"):
            return
        mine = Coupon.objects.filter(template=self.template).annotate(
            standing=Count("redemptions", filter=Q(redemptions__status="redeemed"))
        )
        for coupon in mine:
            assert coupon.standing == (1 if coupon.status == "redeemed" else 0)
            assert (coupon.redeemed_at is not None) == (coupon.status == "redeemed")
            if coupon.status == "expired":
                assert coupon.valid_until <= self.now
        standing = Redemption.objects.filter(coupon__template=self.template, status="redeemed")
        assert set(standing.values_list("pk", flat=True)) == set(self.standing)

    @invariant()
    def limits_are_counted_exactly(self):
        if not hasattr(self, "template"):
            return
        for customer in self.customers:
            counter = ClaimCounter.objects.filter(key=f"c{self.campaign.pk}:u{customer.pk}").first()
            n = counter.n if counter else 0
            assert n == self.claims_by[customer.pk] <= LIMIT


@pytest.mark.django_db
def test_the_coupon_life_cycle_never_reaches_an_impossible_state():
    run_state_machine_as_test(
        CouponLifeCycle,
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
