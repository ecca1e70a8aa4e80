"""Redeeming at a merchant (核销) and reversing (冲正): the rules in the order a POS
sees them (D3, D7)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from campaigns.models import Coupon, Redemption
from campaigns.services.claims import SHANGHAI, coupon_claim
from campaigns.services.redemption import coupon_redeem, redemption_reverse
from scrm.core.errors import DomainError
from tests.campaigns.factories import CouponTemplateFactory, MerchantFactory, StoreFactory
from tests.factories import CustomerFactory, RegionFactory

pytestmark = pytest.mark.django_db


def claimed(template, **kw) -> Coupon:
    [coupon] = coupon_claim(
        customer_id=CustomerFactory().pk,
        campaign_id=template.campaign_id,
        template_id=template.pk,
        **kw,
    ).coupons
    return coupon


def error(**kw) -> DomainError:
    with pytest.raises(DomainError) as info:
        coupon_redeem(**kw)
    return info.value


def test_a_redemption_computes_the_discount_and_a_second_one_is_already_redeemed(
    template, merchant
):
    coupon = claimed(template)
    result = coupon_redeem(merchant=merchant, code=coupon.code, amount_fen=15000)
    assert (result.redemption.discount_fen, result.coupon.status) == (2000, "redeemed")
    again = error(merchant=merchant, code=coupon.code, amount_fen=15000)
    assert (again.code, again.status) == ("already_redeemed", 409)


def test_unknown_and_mistyped_codes_are_not_found(template, merchant):
    coupon = claimed(template)
    typo = coupon.code[:-1] + ("0" if coupon.code[-1] != "0" else "1")
    for code in (typo, "", "nonsense", "0" * 16):
        assert error(merchant=merchant, code=code, amount_fen=15000).code == "not_found"
    # Typed at a till with separators and in lower case, it is found.
    pretty = "-".join(coupon.code[i : i + 4] for i in range(0, 16, 4)).lower()
    coupon_redeem(merchant=merchant, code=pretty, amount_fen=15000)


def test_only_the_templates_merchants_and_regions_may_redeem(merchant):
    city = RegionFactory(code="4403")
    district = RegionFactory(code="440304", parent=city)
    template = CouponTemplateFactory()
    template.regions.set([city])
    coupon = claimed(template)
    assert error(merchant=merchant, code=coupon.code, amount_fen=20000).code == "wrong_merchant"
    local = MerchantFactory(region=district)
    coupon_redeem(merchant=local, code=coupon.code, amount_fen=20000)
    template.merchants.set([merchant])
    other = claimed(template)
    assert error(merchant=local, code=other.code, amount_fen=20000).status == 403
    # A store's region counts over its merchant's.
    StoreFactory(merchant=merchant, code="FT", region=district)
    coupon_redeem(merchant=merchant, code=other.code, amount_fen=20000, store_code="FT")


def test_unknown_store_codes_are_refused(template, merchant):
    coupon = claimed(template)
    StoreFactory(code="OTHER")  # another merchant's store
    err = error(merchant=merchant, code=coupon.code, amount_fen=20000, store_code="OTHER")
    assert (err.code, err.status) == ("store_not_found", 422)


def test_minimum_spend(template, merchant):
    coupon = claimed(template)
    err = error(merchant=merchant, code=coupon.code, amount_fen=9999)
    assert (err.code, err.status, err.data["min_spend_fen"]) == ("below_minimum", 422, 10000)
    assert "100.00" in err.message


def _at(day: datetime, hour: int) -> datetime:
    return datetime.combine(day.date(), time(hour), tzinfo=SHANGHAI)


def test_weekday_and_hours_and_validity(merchant):
    template = CouponTemplateFactory(
        valid_weekdays=[3], valid_time_from=time(11), valid_time_until=time(14), valid_days=30
    )
    coupon = claimed(template)
    today = timezone.now().astimezone(SHANGHAI)
    wednesday = today + timedelta(days=(3 - today.isoweekday()) % 7 + 7)
    for moment in (_at(wednesday, 10), _at(wednesday, 14), _at(wednesday + timedelta(days=1), 12)):
        assert error(merchant=merchant, code=coupon.code, amount_fen=20000, now=moment).code == (
            "not_valid_now"
        )
    coupon_redeem(merchant=merchant, code=coupon.code, amount_fen=20000, now=_at(wednesday, 12))
    late = claimed(template)
    after = timezone.now() + timedelta(days=31)
    assert error(merchant=merchant, code=late.code, amount_fen=20000, now=after).code == "expired"


def test_a_reversal_returns_the_coupon_to_claimed_once_within_the_window(template, merchant):
    coupon = claimed(template)
    redemption = coupon_redeem(merchant=merchant, code=coupon.code, amount_fen=20000).redemption
    with pytest.raises(DomainError) as info:
        redemption_reverse(merchant=MerchantFactory(), redemption_id=redemption.pk)
    assert info.value.code == "not_found"
    result = redemption_reverse(merchant=merchant, redemption_id=redemption.pk)
    assert (result.redemption.status, result.coupon.status) == ("reversed", "claimed")
    with pytest.raises(DomainError) as info:
        redemption_reverse(merchant=merchant, redemption_id=redemption.pk)
    assert info.value.code == "already_reversed"
    second = coupon_redeem(merchant=merchant, code=coupon.code, amount_fen=20000).redemption
    later = timezone.now() + timedelta(days=2)
    with pytest.raises(DomainError) as info:
        redemption_reverse(merchant=merchant, redemption_id=second.pk, now=later)
    assert info.value.code == "reversal_window_passed"
    assert Redemption.objects.filter(coupon_id=coupon.pk).count() == 2
