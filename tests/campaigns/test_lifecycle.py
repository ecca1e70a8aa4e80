"""The campaign life cycle: ops draft, compliance approves in the same review flow as
content (banned phrases in every customer-facing text, four eyes), and every status
change is audited with who and when (D7, D14)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatusChange
from campaigns.services import lifecycle
from campaigns.services.claims import ClaimRefused, coupon_claim
from scrm.core.errors import DomainError
from scrm.core.models import AuditEvent
from scrm.core.roles import Role
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def make_draft(cast, **over):
    now = timezone.now()
    data = {
        "name": "周三美食节",
        "title": "周三美食五折",
        "rules_text": "每位客户限领一张",
        "starts_at": now - timedelta(hours=1),
        "ends_at": now + timedelta(days=30),
        "verified_only": False,
        **over,
    }
    campaign = lifecycle.campaign_create(actor=cast.ops, data=data)
    template = lifecycle.template_create(
        actor=cast.ops,
        campaign_id=campaign.pk,
        data={
            "title": "美食五折券",
            "description": "周三到店出示",
            "kind": "percent_off",
            "percent_off": 50,
            "max_discount_fen": 5000,
            "validity": "relative",
            "valid_days": 7,
            "total_stock": 10,
            "valid_weekdays": [3],
        },
    )
    return campaign, template


def test_a_campaign_goes_from_draft_to_ended_and_every_step_is_audited(cast):
    campaign, template = make_draft(cast)
    lifecycle.campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    lifecycle.campaign_approve(actor=cast.compliance, campaign_id=campaign.pk, comment="可以")
    lifecycle.campaign_go_live(actor=cast.ops, campaign_id=campaign.pk)
    coupon_claim(customer_id=CustomerFactory().pk, campaign_id=campaign.pk)
    lifecycle.campaign_pause(actor=cast.ops, campaign_id=campaign.pk)
    with pytest.raises(ClaimRefused):
        coupon_claim(customer_id=CustomerFactory().pk, campaign_id=campaign.pk)
    lifecycle.campaign_resume(actor=cast.ops, campaign_id=campaign.pk)
    lifecycle.campaign_end(actor=cast.ops, campaign_id=campaign.pk)
    steps = list(
        CampaignStatusChange.objects.filter(campaign=campaign).values_list(
            "from_status", "to_status", "actor__username"
        )
    )
    assert steps == [
        ("draft", "pending", "ops"),
        ("pending", "approved", "compliance"),
        ("approved", "live", "ops"),
        ("live", "paused", "ops"),
        ("paused", "live", "ops"),
        ("live", "ended", "ops"),
    ]
    audits = AuditEvent.objects.filter(
        target_type="campaigns.campaign", target_id=str(campaign.pk)
    ).order_by("at", "pk")
    assert [(a.actor_name, a.details["status_to"]) for a in audits] == [
        ("ops", "pending"),
        ("compliance", "approved"),
        ("ops", "live"),
        ("ops", "paused"),
        ("ops", "live"),
        ("ops", "ended"),
    ]
    campaign.refresh_from_db()
    assert campaign.review_comment == "可以"


def test_a_banned_phrase_in_any_customer_facing_text_stops_the_submission(cast):
    campaign, template = make_draft(cast)
    lifecycle.template_update(
        actor=cast.ops, template_id=template.pk, data={"description": "理财稳赚，零风险"}
    )
    with pytest.raises(DomainError) as info:
        lifecycle.campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    assert info.value.code == "banned_phrase"
    assert {h["phrase"] for h in info.value.data["phrases"]} == {"稳赚", "零风险"}
    assert "「美食五折券」的使用说明" in info.value.message
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_compliance_rechecks_phrases_added_after_the_submission(cast):
    from scrm.content.models import BannedPhrase

    campaign, _template = make_draft(cast, rules_text="周三五折，天天特价")
    lifecycle.campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    BannedPhrase.objects.create(phrase="天天特价", reason="夸大")
    with pytest.raises(DomainError) as info:
        lifecycle.campaign_approve(actor=cast.compliance, campaign_id=campaign.pk)
    assert info.value.code == "banned_phrase"


def test_the_announcement_must_be_approved_content(cast, draft, approved):
    campaign, _template = make_draft(cast, announcement=draft)
    with pytest.raises(DomainError) as info:
        lifecycle.campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    assert info.value.code == "content_not_approved"
    lifecycle.campaign_update(
        actor=cast.ops, campaign_id=campaign.pk, data={"announcement": approved}
    )
    lifecycle.campaign_submit(actor=cast.ops, campaign_id=campaign.pk)


def test_four_eyes_and_roles(cast):
    both = UserFactory(
        username="ops_and_compliance", roles=[Role.OPS_STAFF, Role.COMPLIANCE_REVIEWER]
    )
    campaign = lifecycle.campaign_create(
        actor=both,
        data={
            "name": "x",
            "title": "x",
            "starts_at": timezone.now(),
            "ends_at": timezone.now() + timedelta(days=1),
        },
    )
    lifecycle.template_create(
        actor=both,
        campaign_id=campaign.pk,
        data={
            "title": "券",
            "kind": "amount_off",
            "face_value_fen": 100,
            "valid_days": 3,
            "total_stock": 5,
        },
    )
    lifecycle.campaign_submit(actor=both, campaign_id=campaign.pk)
    with pytest.raises(DomainError) as info:
        lifecycle.campaign_approve(actor=both, campaign_id=campaign.pk)
    assert info.value.code == "four_eyes"
    for outsider in (cast.manager_a, cast.ops):
        with pytest.raises(DomainError) as info:
            lifecycle.campaign_approve(actor=outsider, campaign_id=campaign.pk)
        assert info.value.code == "forbidden"
    with pytest.raises(DomainError):
        lifecycle.campaign_create(actor=cast.compliance, data={})


def test_a_rejection_sends_it_back_to_draft_with_the_comment_and_only_drafts_change(cast):
    campaign, template = make_draft(cast)
    lifecycle.campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    with pytest.raises(DomainError) as info:
        lifecycle.template_update(actor=cast.ops, template_id=template.pk, data={"total_stock": 99})
    assert info.value.code == "campaign_not_editable"
    with pytest.raises(DomainError):
        lifecycle.campaign_reject(actor=cast.compliance, campaign_id=campaign.pk, comment=" ")
    lifecycle.campaign_reject(actor=cast.compliance, campaign_id=campaign.pk, comment="规则不清")
    campaign.refresh_from_db()
    assert (campaign.status, campaign.review_comment) == ("draft", "规则不清")
    lifecycle.template_update(actor=cast.ops, template_id=template.pk, data={"total_stock": 99})
    template.refresh_from_db()
    assert template.stock_remaining == 99


def test_invalid_transitions_are_refused(cast):
    campaign, _t = make_draft(cast)
    for step in (lifecycle.campaign_go_live, lifecycle.campaign_pause, lifecycle.campaign_end):
        with pytest.raises(DomainError) as info:
            step(actor=cast.ops, campaign_id=campaign.pk)
        assert info.value.code == "invalid_transition"


def test_templates_are_validated(cast):
    campaign, _t = make_draft(cast)
    bad = [
        {"title": "x", "kind": "percent_off", "percent_off": 50, "valid_days": 1, "total_stock": 1},
        {"title": "x", "kind": "amount_off", "valid_days": 1, "total_stock": 1},
        {
            "title": "x",
            "kind": "amount_off",
            "face_value_fen": 1,
            "instalments": 3,
            "valid_days": 1,
            "total_stock": 1,
        },
        {
            "title": "x",
            "kind": "amount_off",
            "face_value_fen": 1,
            "validity": "fixed",
            "total_stock": 1,
        },
        {
            "title": "x",
            "kind": "amount_off",
            "face_value_fen": 1,
            "valid_days": 1,
            "total_stock": 1,
            "valid_weekdays": [8],
        },
    ]
    for data in bad:
        with pytest.raises(DomainError) as info:
            lifecycle.template_create(actor=cast.ops, campaign_id=campaign.pk, data=data)
        assert info.value.code == "invalid"


def test_campaigns_past_their_end_are_ended_by_the_system(cast):
    campaign, _t = make_draft(cast)
    lifecycle.campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    lifecycle.campaign_approve(actor=cast.compliance, campaign_id=campaign.pk)
    lifecycle.campaign_go_live(actor=cast.ops, campaign_id=campaign.pk)
    assert lifecycle.campaigns_end_due(now=timezone.now()) == 0
    assert lifecycle.campaigns_end_due(now=timezone.now() + timedelta(days=31)) == 1
    change = CampaignStatusChange.objects.filter(campaign=campaign).last()
    assert (change.to_status, change.actor) == ("ended", None)
