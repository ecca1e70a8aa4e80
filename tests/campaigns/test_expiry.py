"""The periodic job expires coupons past their validity and releases the budget they
held; a redeemed coupon is never expired (D7)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from campaigns.models import Campaign, Coupon
from campaigns.services.claims import coupon_claim
from campaigns.services.expiry import coupons_expire
from campaigns.services.redemption import coupon_redeem
from campaigns.tasks import expiry_sweep
from tests.campaigns.factories import CampaignFactory, CouponTemplateFactory
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_coupons_past_validity_expire_and_release_the_budget(merchant):
    campaign = CampaignFactory(budget_fen=100_000, per_customer_limit=None)
    template = CouponTemplateFactory(campaign=campaign, face_value_fen=2000, valid_days=1)
    coupons = [
        coupon_claim(customer_id=CustomerFactory().pk, campaign_id=campaign.pk).coupons[0]
        for _ in range(5)
    ]
    coupon_redeem(merchant=merchant, code=coupons[0].code, amount_fen=20000)
    campaign.refresh_from_db()
    assert campaign.budget_committed_fen == 10_000
    assert coupons_expire(now=timezone.now()) == 0
    later = timezone.now() + timedelta(days=2)
    assert coupons_expire(now=later, batch=2) == 4
    statuses = dict(Coupon.objects.values_list("code", "status"))
    assert statuses[coupons[0].code] == "redeemed"
    assert sorted(statuses.values()).count("expired") == 4
    campaign.refresh_from_db()
    assert campaign.budget_committed_fen == 2000  # the redeemed one keeps its share
    assert template.coupons.filter(status="expired", expired_at=later).count() == 4


def test_the_sweep_is_a_periodic_job_and_ends_campaigns_past_their_end():
    entry = settings.CELERY_BEAT_SCHEDULE["campaigns-expiry-sweep"]
    assert entry["task"] == "campaigns.expiry_sweep"
    assert entry["options"]["expires"] < entry["schedule"]
    campaign = CampaignFactory(ends_at=timezone.now() + timedelta(seconds=1))
    Campaign.objects.filter(pk=campaign.pk).update(
        starts_at=timezone.now() - timedelta(days=2), ends_at=timezone.now() - timedelta(days=1)
    )
    assert expiry_sweep() == {"coupons_expired": 0, "campaigns_ended": 1}
