"""Claiming a coupon: one transaction that never overdraws stock, budget or a limit,
and every refusal has a code, a Chinese message and a record (D4, D7)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.codes import code_is_well_formed
from campaigns.models import (
    Blacklist,
    Campaign,
    CampaignContact,
    CampaignVariant,
    ClaimRefusal,
    Coupon,
    CouponTemplate,
)
from campaigns.services import claims
from campaigns.services.claims import ClaimRefused, coupon_claim
from tests.campaigns.conftest import verified_customer
from tests.campaigns.factories import CampaignFactory, CouponTemplateFactory
from tests.factories import (
    CustomerFactory,
    CustomerGroupFactory,
    GroupMemberFactory,
    GroupPoolFactory,
    RegionFactory,
)

pytestmark = pytest.mark.django_db


def claim(customer, template, **kw):
    return coupon_claim(
        customer_id=customer.pk, campaign_id=template.campaign_id, template_id=template.pk, **kw
    )


def refused(customer, template, **kw) -> ClaimRefused:
    with pytest.raises(ClaimRefused) as info:
        claim(customer, template, **kw)
    return info.value


def test_a_claim_gets_a_checked_code_and_takes_one_from_stock(template, customer):
    result = claim(customer, template)
    [coupon] = result.coupons
    stored = Coupon.objects.get(pk=coupon.pk)
    assert stored.code == coupon.code and code_is_well_formed(coupon.code)
    assert stored.status == Coupon.Status.CLAIMED
    assert stored.customer_id == customer.pk and stored.source == Coupon.Source.LINK
    # "7 days from claim" counts the claim day: valid until midnight (Shanghai) 7 days on.
    local_until = stored.valid_until.astimezone(claims.SHANGHAI)
    assert (local_until.hour, local_until.minute) == (0, 0)
    assert local_until.date() == timezone.localdate() + timedelta(days=7)
    template.refresh_from_db()
    assert template.stock_remaining == 99
    # Without A/B variants a claim records no contact: opening the page does (the funnel).
    assert not CampaignContact.objects.filter(campaign=template.campaign).exists()


def test_the_last_coupon_goes_then_out_of_stock_is_refused_and_recorded(customer):
    template = CouponTemplateFactory(total_stock=1)
    claim(customer, template)
    other = CustomerFactory()
    refusal = refused(other, template)
    assert (refusal.code, refusal.status) == ("out_of_stock", 409)
    assert refusal.message == "优惠券已领完"
    template.refresh_from_db()
    assert template.stock_remaining == 0
    row = ClaimRefusal.objects.get()
    assert (row.code, row.customer_id, row.template_id) == ("out_of_stock", other.pk, template.pk)


def test_the_daily_stock_runs_out_for_the_day_only(customer):
    template = CouponTemplateFactory(total_stock=10, daily_stock=1)
    claim(customer, template)
    refusal = refused(CustomerFactory(), template)
    assert (refusal.code, refusal.data["reason"]) == ("out_of_stock", "daily")
    tomorrow = timezone.now() + timedelta(days=1)
    claim(CustomerFactory(), template, now=tomorrow)
    template.refresh_from_db()
    assert (template.stock_remaining, template.day_claimed) == (8, 1)


def test_a_customer_cannot_pass_the_campaign_limit_and_the_counter_rolls_back_with_a_refusal():
    template = CouponTemplateFactory(campaign__per_customer_limit=2, total_stock=2)
    customer = CustomerFactory()
    claim(customer, template)
    claim(customer, template)
    assert refused(customer, template).code == "limit_reached"
    # A refusal for stock does not use up a limit: the counter is rolled back with it.
    second = CouponTemplateFactory(campaign__per_customer_limit=1, total_stock=1)
    claim(CustomerFactory(), second)
    late = CustomerFactory()
    assert refused(late, second).code == "out_of_stock"
    CouponTemplate.objects.filter(pk=second.pk).update(stock_remaining=1)
    claim(late, second)


def test_the_per_phone_limit_holds_across_customers_with_one_phone():
    template = CouponTemplateFactory(
        campaign__per_customer_limit=None, per_phone_limit=1, campaign__verified_only=True
    )
    first = verified_customer("13900000001", customer_no="A1")
    second = verified_customer("13900000001", customer_no="A2")
    claim(first, template)
    assert refused(second, template).code == "limit_reached"
    # Without a known phone a per-phone limit cannot be applied: not eligible.
    template.campaign.verified_only = False
    template.campaign.save()
    claims.campaign_config_forget()
    refusal = refused(CustomerFactory(), template)
    assert (refusal.code, refusal.data["reason"]) == ("not_eligible", "no_phone")


def test_verified_only_campaigns_refuse_unverified_customers(customer):
    template = CouponTemplateFactory(campaign__verified_only=True)
    refusal = refused(customer, template)
    assert (refusal.code, refusal.status) == ("not_eligible", 403)
    assert refusal.message == "本活动仅限本行认证客户领取"
    claim(verified_customer(), template)


def test_the_audience_is_groups_pools_and_regions_with_the_regions_below_them():
    province = RegionFactory(code="44", level="province")
    city = RegionFactory(code="4403", parent=province)
    template = CouponTemplateFactory(campaign__per_customer_limit=None)
    template.campaign.audience_regions.set([province])
    in_city = GroupMemberFactory(group=CustomerGroupFactory(region=city)).customer
    pool = GroupPoolFactory(region=None)
    in_pool_group = GroupMemberFactory(group=CustomerGroupFactory(pool=pool)).customer
    elsewhere = GroupMemberFactory(group=CustomerGroupFactory(region=RegionFactory())).customer
    left = GroupMemberFactory(group=CustomerGroupFactory(region=city), is_active=False).customer
    claim(in_city, template)
    for outsider in (in_pool_group, elsewhere, left, CustomerFactory()):
        assert refused(outsider, template).data["reason"] == "audience"
    template.campaign.audience_pools.set([pool])
    claims.campaign_config_forget()
    claim(in_pool_group, template)
    # The bank's systems decide their own audience: only the D4 gate applies to them.
    claim(elsewhere, template, source=Coupon.Source.API)


def test_a_blacklisted_customer_or_phone_is_blocked(cast):
    template = CouponTemplateFactory()
    customer = CustomerFactory()
    Blacklist.objects.create(kind="customer", customer=customer, reason="羊毛党")
    assert refused(customer, template).code == "blocked"
    hunter = verified_customer("13700000000")
    Blacklist.objects.create(kind="phone", phone_hash=hunter.bank_record.phone_hash, reason="x")
    assert refused(hunter, template).code == "blocked"
    assert set(ClaimRefusal.objects.values_list("reason", flat=True)) == {"blacklist"}


def test_claims_from_one_address_are_limited_per_hour(template):
    Campaign.objects.filter(pk=template.campaign_id).update(velocity_ip_per_hour=2)
    claims.campaign_config_forget()
    claim(CustomerFactory(), template, ip="203.0.113.9")
    claim(CustomerFactory(), template, ip="203.0.113.9")
    refusal = refused(CustomerFactory(), template, ip="203.0.113.9")
    assert (refusal.code, refusal.status, refusal.data["reason"]) == (
        "blocked",
        429,
        "velocity_ip",
    )
    claim(CustomerFactory(), template, ip="198.51.100.7")


@pytest.mark.parametrize("status", ["draft", "pending", "approved", "paused", "ended"])
def test_only_a_live_campaign_can_be_claimed(status, customer):
    template = CouponTemplateFactory(campaign__status=status)
    assert refused(customer, template).code == "campaign_not_live"


def test_a_live_campaign_outside_its_period_cannot_be_claimed(customer):
    template = CouponTemplateFactory(
        campaign__starts_at=timezone.now() + timedelta(hours=1),
        campaign__ends_at=timezone.now() + timedelta(days=2),
    )
    assert refused(customer, template).code == "campaign_not_live"
    claim(customer, template, now=timezone.now() + timedelta(hours=2))


def test_a_paused_campaign_stops_claims_at_once_even_with_a_cached_configuration(template):
    claim(CustomerFactory(), template)  # the configuration is now cached as live
    Campaign.objects.filter(pk=template.campaign_id).update(status=Campaign.Status.PAUSED)
    assert refused(CustomerFactory(), template).code == "campaign_not_live"
    template.refresh_from_db()
    assert template.stock_remaining == 99


def test_the_budget_is_never_overdrawn_and_expiry_releases_what_a_coupon_held():
    campaign = CampaignFactory(budget_fen=5000, per_customer_limit=None)
    template = CouponTemplateFactory(campaign=campaign, face_value_fen=2000)
    claim(CustomerFactory(), template)
    claim(CustomerFactory(), template)
    refusal = refused(CustomerFactory(), template)
    assert (refusal.code, refusal.data["reason"], refusal.message) == (
        "out_of_stock",
        "budget",
        "活动预算已用完",
    )
    campaign.refresh_from_db()
    template.refresh_from_db()
    assert (campaign.budget_committed_fen, template.stock_remaining) == (4000, 98)


def test_instalments_are_one_claim_of_several_coupons_a_period_apart(customer):
    template = CouponTemplateFactory(
        kind="instalment",
        face_value_fen=500,
        min_spend_fen=0,
        instalments=3,
        instalment_interval_days=30,
        valid_days=30,
        total_stock=10,
    )
    coupons = claim(customer, template).coupons
    assert [c.instalment_no for c in coupons] == [1, 2, 3]
    stored = list(Coupon.objects.filter(claim_ref=coupons[0].claim_ref).order_by("instalment_no"))
    assert [c.code for c in stored] == [c.code for c in coupons]
    assert stored[1].valid_from - stored[0].valid_from > timedelta(days=29)
    assert stored[2].valid_from.astimezone(claims.SHANGHAI).date() == (
        timezone.localdate() + timedelta(days=60)
    )
    template.refresh_from_db()
    assert template.stock_remaining == 9  # stock counts claims


def test_a_customers_variant_is_deterministic_and_recorded_on_first_contact():
    campaign = CampaignFactory(per_customer_limit=None)
    a = CouponTemplateFactory(campaign=campaign, title="A券")
    b = CouponTemplateFactory(campaign=campaign, title="B券")
    va = CampaignVariant.objects.create(campaign=campaign, key="A", template=a, weight=50)
    vb = CampaignVariant.objects.create(campaign=campaign, key="B", template=b, weight=50)
    customers = [CustomerFactory() for _ in range(40)]
    config = claims.campaign_config(campaign.pk)
    assigned = {c.pk: claims.variant_for(config, c.pk) for c in customers}
    assert {v.key for v in assigned.values()} == {"A", "B"}
    for customer in customers[:10]:
        variant = assigned[customer.pk]
        own, other = (a, b) if variant.id == va.pk else (b, a)
        assert refused(customer, other).data["reason"] == "template"
        [coupon] = claim(customer, own).coupons
        assert coupon.variant_id == variant.id
        contact = CampaignContact.objects.get(campaign=campaign, customer=customer)
        assert contact.variant_id == variant.id
    assert {claims.variant_for(config, c.pk).id for c in customers[:1]} <= {va.pk, vb.pk}
    claims.campaign_config_forget()
    again = claims.campaign_config(campaign.pk)
    assert all(claims.variant_for(again, pk) == v for pk, v in assigned.items())


def test_an_unknown_template_of_another_campaign_is_not_eligible(template, customer):
    other = CouponTemplateFactory()
    with pytest.raises(ClaimRefused) as info:
        coupon_claim(
            customer_id=customer.pk, campaign_id=template.campaign_id, template_id=other.pk
        )
    assert info.value.code == "not_eligible"
    assert not Coupon.objects.exists()
