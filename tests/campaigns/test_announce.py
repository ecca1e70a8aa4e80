"""Announcing a campaign: a customer who opted out of marketing is never sent it, and
理财/基金/保险/贷款 campaigns go only to customers with an explicit yes (D10, D14)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Announcement, Campaign, CampaignContact, MarketingConsent
from campaigns.services import announce, consent
from contacts.models import Customer
from tests.campaigns.factories import CampaignFactory, CouponTemplateFactory
from tests.factories import CustomerFactory, FollowRelationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(cast, wecom_sandbox):
    names = ["wmAnna", "wmBob", "wmCai", "wmDu"]
    wecom_sandbox.seed_staff(cast.staff_a.userid)
    wecom_sandbox.control(
        "customers",
        customers=[
            {"external_userid": n, "name": n, "follow": [{"userid": cast.staff_a.userid}]}
            for n in names
        ],
    )
    customers = {}
    for n in names:
        customers[n] = CustomerFactory(external_userid=n, name=n)
        FollowRelationFactory(customer=customers[n], staff=cast.staff_a)
    return customers


def _sent_to(wecom_sandbox) -> list[str]:
    return sorted(
        ext
        for msg in wecom_sandbox.state()["msgs"]
        for targets in msg["targets"].values()
        for ext in targets
    )


def _announce(cast, campaign, capture) -> list[Announcement]:
    sent: list[int] = []
    with capture(execute=True):
        count = announce.campaign_announce(actor=cast.ops, campaign_id=campaign.pk)
    for pk in Announcement.objects.filter(campaign=campaign).values_list("pk", flat=True):
        sent.append(pk)
        announce.announcement_send(announcement_id=pk)
    assert count == len(sent)
    return list(Announcement.objects.filter(campaign=campaign).select_related("customer"))


def test_an_opted_out_customer_is_never_announced_to(
    cast, people, approved, wecom_sandbox, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(announce, "_enqueue", lambda ids: None)
    Customer.objects.filter(pk=people["wmBob"].pk).update(marketing_opt_out=True)
    campaign = CampaignFactory(announcement=approved)
    CouponTemplateFactory(campaign=campaign)
    rows = _announce(cast, campaign, django_capture_on_commit_callbacks)
    assert sorted(r.customer.external_userid for r in rows) == ["wmAnna", "wmCai", "wmDu"]
    assert {r.status for r in rows} == {"sent"}
    assert _sent_to(wecom_sandbox) == ["wmAnna", "wmCai", "wmDu"]
    # The message is the approved content plus the customer's own claim link.
    msg = wecom_sandbox.state()["msgs"][0]
    assert msg["text"]["content"].startswith("周三美食五折")
    assert "/h5/claim/" in msg["attachments"][-1]["link"]["url"]
    targeted = CampaignContact.objects.filter(campaign=campaign, targeted_at__isnull=False)
    assert targeted.count() == 3
    # Announcing again sends nothing new.
    assert announce.campaign_announce(actor=cast.ops, campaign_id=campaign.pk) == 0


def test_a_customer_who_opts_out_after_preparation_is_skipped_at_send_time(
    cast, people, approved, wecom_sandbox, monkeypatch
):
    monkeypatch.setattr(announce, "_enqueue", lambda ids: None)
    campaign = CampaignFactory(announcement=approved)
    CouponTemplateFactory(campaign=campaign)
    announce.campaign_announce(actor=cast.ops, campaign_id=campaign.pk)
    Customer.objects.filter(pk=people["wmAnna"].pk).update(marketing_opt_out=True)
    row = Announcement.objects.get(campaign=campaign, customer=people["wmAnna"])
    assert announce.announcement_send(announcement_id=row.pk) == "skipped"
    row.refresh_from_db()
    assert (row.status, row.reason) == ("skipped", "not_marketable")
    assert "wmAnna" not in _sent_to(wecom_sandbox)


def test_a_wealth_campaign_needs_an_explicit_yes_and_the_latest_answer_counts(
    cast, people, approved, wecom_sandbox, monkeypatch
):
    monkeypatch.setattr(announce, "_enqueue", lambda ids: None)
    campaign = CampaignFactory(announcement=approved, product_category=Campaign.Category.WEALTH)
    CouponTemplateFactory(campaign=campaign)
    earlier = timezone.now() - timedelta(days=3)
    consent.consent_record(
        customer_id=people["wmAnna"].pk, category="wealth", granted=True, source="branch"
    )
    consent.consent_record(
        customer_id=people["wmCai"].pk, category="wealth", granted=True, source="h5", at=earlier
    )
    consent.consent_record(
        customer_id=people["wmCai"].pk, category="wealth", granted=False, source="h5"
    )
    consent.consent_record(
        customer_id=people["wmDu"].pk, category="fund", granted=True, source="h5"
    )
    audience = announce.campaign_audience(campaign)
    assert sorted(audience.values_list("external_userid", flat=True)) == ["wmAnna"]
    record = MarketingConsent.objects.filter(customer=people["wmAnna"]).get()
    assert (record.source, record.granted) == ("branch", True) and record.recorded_at


def test_a_campaign_is_announced_only_when_live_with_approved_content(cast, approved, draft):
    campaign = CampaignFactory(announcement=approved, status=Campaign.Status.APPROVED)
    with pytest.raises(Exception) as info:
        announce.campaign_announce(actor=cast.ops, campaign_id=campaign.pk)
    assert info.value.code == "campaign_not_live"
    unapproved = CampaignFactory(announcement=draft)
    with pytest.raises(Exception) as info:
        announce.campaign_announce(actor=cast.ops, campaign_id=unapproved.pk)
    assert info.value.code == "content_not_approved"


@pytest.mark.django_db(transaction=True)
def test_wecom_is_called_with_no_transaction_open(
    cast, people, approved, wecom_sandbox, monkeypatch, wecom_calls_outside_transactions
):
    monkeypatch.setattr(announce, "_enqueue", lambda ids: None)
    calls = wecom_calls_outside_transactions("msg_template_add")
    campaign = CampaignFactory(announcement=approved)
    CouponTemplateFactory(campaign=campaign)
    announce.campaign_announce(actor=cast.ops, campaign_id=campaign.pk)
    for row in Announcement.objects.filter(campaign=campaign):
        assert announce.announcement_send(announcement_id=row.pk) == "sent"
    assert calls == ["msg_template_add"] * 4
