"""The database itself refuses an overdrawn stock or budget, a second standing
redemption of one coupon, a limit counter past its cap, and deleting the campaign or
template of a coupon (D7)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from campaigns.models import ClaimCounter, Coupon, CouponTemplate, Redemption
from tests.campaigns.factories import CouponTemplateFactory, MerchantFactory
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _coupon(template, **kw) -> Coupon:
    now = timezone.now()
    return Coupon.objects.create(
        code=kw.pop("code", uuid.uuid4().hex[:16].upper()),
        campaign=template.campaign,
        template=template,
        customer=kw.pop("customer", None) or CustomerFactory(),
        claim_ref=uuid.uuid4(),
        source=Coupon.Source.LINK,
        valid_from=now,
        valid_until=now + timedelta(days=7),
        claimed_at=now,
        **kw,
    )


def test_stock_never_goes_below_zero_even_without_the_guard():
    template = CouponTemplateFactory(total_stock=1)
    CouponTemplate.objects.filter(pk=template.pk).update(stock_remaining=F("stock_remaining") - 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        CouponTemplate.objects.filter(pk=template.pk).update(
            stock_remaining=F("stock_remaining") - 1
        )


def test_the_committed_budget_never_exceeds_the_budget():
    template = CouponTemplateFactory(campaign__budget_fen=5000)
    campaign = template.campaign
    type(campaign).objects.filter(pk=campaign.pk).update(budget_committed_fen=5000)
    with pytest.raises(IntegrityError), transaction.atomic():
        type(campaign).objects.filter(pk=campaign.pk).update(budget_committed_fen=5001)


def test_a_coupon_has_at_most_one_standing_redemption():
    template = CouponTemplateFactory()
    merchant = MerchantFactory()
    coupon = _coupon(template)
    now = timezone.now()
    Redemption.objects.create(
        coupon=coupon, merchant=merchant, amount_fen=100, discount_fen=20, redeemed_at=now
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Redemption.objects.create(
            coupon=coupon, merchant=merchant, amount_fen=100, discount_fen=20, redeemed_at=now
        )
    # A reversed redemption no longer stands: the coupon may be redeemed again.
    Redemption.objects.filter(coupon=coupon).update(status=Redemption.Status.REVERSED)
    Redemption.objects.create(
        coupon=coupon, merchant=merchant, amount_fen=100, discount_fen=20, redeemed_at=now
    )


def test_a_redeemed_coupon_carries_its_redemption_time_and_only_then():
    coupon = _coupon(CouponTemplateFactory())
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.filter(pk=coupon.pk).update(status=Coupon.Status.REDEEMED)
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.filter(pk=coupon.pk).update(redeemed_at=timezone.now())


@pytest.mark.parametrize("table", ["campaigns_coupontemplate", "campaigns_campaign"])
def test_the_campaign_and_template_of_a_coupon_cannot_be_deleted_even_in_sql(table):
    template = CouponTemplateFactory()
    coupon = _coupon(template)
    parent = template.pk if table == "campaigns_coupontemplate" else template.campaign_id
    with (
        pytest.raises(IntegrityError, match="still has coupons"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [parent])  # noqa: S608
    coupon.refresh_from_db()
    assert coupon.template_id == template.pk


def test_a_template_without_coupons_can_be_deleted():
    template = CouponTemplateFactory()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM campaigns_coupontemplate WHERE id = %s", [template.pk])
    assert not CouponTemplate.objects.filter(pk=template.pk).exists()


def test_a_limit_counter_cannot_pass_its_cap():
    ClaimCounter.objects.create(key="c1:u1", n=1, cap=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ClaimCounter.objects.filter(key="c1:u1").update(n=F("n") + 1)


@pytest.mark.parametrize(
    ("kind", "fields", "amount", "discount"),
    [
        ("percent_off", {"percent_off": 50, "max_discount_fen": 3000}, 4999, 2499),
        ("percent_off", {"percent_off": 50, "max_discount_fen": 3000}, 100000, 3000),
        ("amount_off", {"face_value_fen": 2000}, 15000, 2000),
        ("voucher", {"face_value_fen": 4500}, 3000, 3000),
        ("instalment", {"face_value_fen": 1000}, 5000, 1000),
    ],
)
def test_discounts_are_whole_fen_never_more_than_the_order(kind, fields, amount, discount):
    template = CouponTemplate(kind=kind, **fields)
    assert template.discount_for(amount) == discount
    assert isinstance(template.discount_for(amount), int)
