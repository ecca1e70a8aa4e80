"""The ops admin of campaigns: pages, the review flow, reports and exports; compliance
sees campaigns to review but never customers' claims (D13, D14)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import Blacklist, Campaign, CampaignVariant, CouponTemplate, MerchantKey
from campaigns.services import lifecycle
from campaigns.services.claims import coupon_claim
from scrm.core.models import AuditEvent
from tests.campaigns.factories import CampaignFactory, CouponTemplateFactory
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_ops_see_every_campaigns_page(client, cast, template, merchant):
    coupon_claim(customer_id=CustomerFactory().pk, campaign_id=template.campaign_id)
    client.force_login(cast.ops)
    for name in (
        "campaign",
        "coupontemplate",
        "coupon",
        "redemption",
        "claimrefusal",
        "blacklist",
        "marketingconsent",
        "merchant",
        "announcement",
        "campaignreviewqueue",
    ):
        assert client.get(reverse(f"admin:campaigns_{name}_changelist")).status_code == 200, name
        if name not in (
            "coupon",
            "redemption",
            "claimrefusal",
            "announcement",
            "campaignreviewqueue",
        ):
            assert client.get(reverse(f"admin:campaigns_{name}_add")).status_code == 200, name
    page = client.get(reverse("admin:campaigns_campaign_change", args=[template.campaign_id]))
    html = page.content.decode()
    assert page.status_code == 200 and 'id="funnel"' in html and 'id="export-csv"' in html
    assert page.context["report"].claimed == 1 and page.context["report"].stock_left == 99
    coupon_page = client.get(
        reverse("admin:campaigns_coupon_change", args=[template.coupons.get().pk])
    )
    assert coupon_page.status_code == 200


def test_compliance_reviews_campaigns_but_never_sees_claims(client, cast):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT, created_by=cast.ops)
    CouponTemplateFactory(campaign=campaign)
    lifecycle.campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    client.force_login(cast.compliance)
    queue = client.get(reverse("admin:campaigns_campaignreviewqueue_changelist"))
    assert queue.status_code == 200 and campaign.name in queue.content.decode()
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert page.status_code == 200
    assert page.context["can_review"] and "report" not in page.context
    assert 'id="act-approve"' in page.content.decode()
    for name in (
        "coupon",
        "redemption",
        "claimrefusal",
        "blacklist",
        "marketingconsent",
        "merchant",
    ):
        assert client.get(reverse(f"admin:campaigns_{name}_changelist")).status_code == 403, name
    index = client.get(reverse("admin:app_list", args=["campaigns"])).content.decode()
    assert "领券记录" not in index and "待审核活动" in index
    done = client.post(
        reverse("admin:campaigns_campaign_act", args=[campaign.pk]),
        {"action": "approve", "comment": "合规"},
    )
    assert done.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.APPROVED
    # A reviewer cannot run the campaign.
    client.post(reverse("admin:campaigns_campaign_act", args=[campaign.pk]), {"action": "go_live"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.APPROVED


def test_ops_add_a_template_through_the_admin_form(client, cast):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    client.force_login(cast.ops)
    response = client.post(
        reverse("admin:campaigns_coupontemplate_add"),
        {
            "campaign": campaign.pk,
            "title": "周三美食五折",
            "description": "",
            "kind": "percent_off",
            "percent_off": "50",
            "face_value_fen": "",
            "max_discount_fen": "3000",
            "min_spend_fen": "0",
            "instalments": "1",
            "instalment_interval_days": "30",
            "valid_weekdays": "3",
            "validity": "relative",
            "valid_days": "7",
            "total_stock": "500",
            "daily_stock": "100",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    template = CouponTemplate.objects.get(campaign=campaign)
    assert (template.stock_remaining, template.valid_weekdays) == (500, [3])
    missing_cap = client.post(
        reverse("admin:campaigns_coupontemplate_add"),
        {"campaign": campaign.pk, "title": "x", "kind": "percent_off", "percent_off": "50",
         "min_spend_fen": "0", "instalments": "1", "instalment_interval_days": "30",
         "validity": "relative", "valid_days": "7", "total_stock": "5"},
    )  # fmt: skip
    assert missing_cap.status_code == 200
    assert "max_discount_fen" in missing_cap.context["adminform"].form.errors


def test_the_ab_report_tests_the_difference_in_claim_rates(client, cast):
    campaign = CampaignFactory(per_customer_limit=None)
    a = CouponTemplateFactory(campaign=campaign, total_stock=500)
    b = CouponTemplateFactory(campaign=campaign, total_stock=500)
    CampaignVariant.objects.create(campaign=campaign, key="A", template=a)
    CampaignVariant.objects.create(campaign=campaign, key="B", template=b)
    from campaigns.services.claims import campaign_config, contact_record, variant_for

    config = campaign_config(campaign.pk)
    for _ in range(120):
        customer = CustomerFactory()
        contact_record(campaign_id=campaign.pk, customer_id=customer.pk, opened=True)
        if variant_for(config, customer.pk).key == "A":
            coupon_claim(customer_id=customer.pk, campaign_id=campaign.pk)
    client.force_login(cast.ops)
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    report = page.context["report"]
    rows = {row.variant.key: row for row in report.variants}
    assert rows["A"].claim_rate == 1.0 and rows["B"].claim_rate == 0.0
    assert report.variant_test.significant and report.variant_test.p_value < 0.001
    assert "差异显著" in page.content.decode()


def test_exports_are_audited(client, cast, template):
    coupon_claim(customer_id=CustomerFactory().pk, campaign_id=template.campaign_id)
    client.force_login(cast.ops)
    for fmt in ("csv", "xlsx"):
        response = client.post(
            reverse("admin:campaigns_campaign_export", args=[template.campaign_id, fmt])
        )
        assert response.status_code == 200
        assert response["Content-Disposition"].endswith(f'.{fmt}"')
    csv_text = client.post(
        reverse("admin:campaigns_campaign_export", args=[template.campaign_id, "csv"])
    ).content.decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("券码,模板")
    events = AuditEvent.objects.filter(action="export", target_type="campaigns.campaign")
    assert [e.details["format"] for e in events.order_by("at")] == ["csv", "xlsx", "csv"]
    assert {e.actor_name for e in events} == {"ops"}


def test_a_new_merchant_key_is_shown_once_and_stored_hashed(client, cast, merchant):
    client.force_login(cast.ops)
    response = client.post(
        reverse("admin:campaigns_merchant_key_create", args=[merchant.pk]), {"name": "收银机"}
    )
    raw = response.context["raw_key"]
    assert raw.startswith("mk_") and raw in response.content.decode()
    key = MerchantKey.objects.get()
    assert raw not in (key.prefix, key.key_hash) and key.prefix in raw
    page = client.get(reverse("admin:campaigns_merchant_change", args=[merchant.pk]))
    assert raw not in page.content.decode()
    client.post(reverse("admin:campaigns_merchant_key_revoke", args=[merchant.pk, key.pk]))
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_ops_blacklist_a_phone_kept_only_as_hash_and_mask(client, cast):
    client.force_login(cast.ops)
    response = client.post(
        reverse("admin:campaigns_blacklist_add"),
        {"kind": "phone", "phone": "138 0013 8000", "reason": "批量注册"},
    )
    assert response.status_code == 302
    entry = Blacklist.objects.get()
    assert entry.phone_masked == "138****8000" and len(entry.phone_hash) == 64
    assert "13800138000" not in str(Blacklist.objects.values().get())
