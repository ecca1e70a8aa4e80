"""Ops set up a referral campaign in the admin (its goal and tiers inline), compliance
review it like any campaign (D8, D14); the invitations, rewards and segments pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.referral.models import ReferralProgram, ReferralTier
from campaigns.services import lifecycle
from scrm.core.errors import DomainError

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft_referral(cast):
    now = timezone.now()
    return lifecycle.campaign_create(
        actor=cast.ops,
        data={
            "name": "春季老带新",
            "kind": Campaign.Kind.REFERRAL,
            "title": "邀请好友开卡",
            "rules_text": "好友开卡成功即算邀请成功。",
            "starts_at": now - timedelta(hours=1),
            "ends_at": now + timedelta(days=30),
            "verified_only": True,
            "per_customer_limit": None,
            "budget_fen": 50_000,
        },
    )


def _form(campaign, tiers) -> dict:
    data = {
        "campaign": str(campaign.pk),
        "goal": "card_opened",
        "group_pool": "",
        "reward_delay_workdays": "5",
        "tiers-TOTAL_FORMS": str(len(tiers)),
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "1000",
    }
    for i, tier in enumerate(tiers):
        for key, value in tier.items():
            data[f"tiers-{i}-{key}"] = value
    return data


def test_ops_set_up_tiers_and_compliance_approves_the_referral_campaign(
    client, cast, draft_referral
):
    with pytest.raises(DomainError) as refused:
        lifecycle.campaign_submit(actor=cast.ops, campaign_id=draft_referral.pk)
    assert refused.value.code == "no_referral"

    client.force_login(cast.ops)
    add = reverse("admin:referral_referralprogram_add")
    assert client.get(add).status_code == 200
    bad = client.post(
        add, _form(draft_referral, [{"threshold": "3", "kind": "red_packet", "amount_fen": ""}])
    )
    assert bad.status_code == 200 and "红包档位须填写金额" in bad.content.decode()
    assert not ReferralProgram.objects.exists()
    response = client.post(
        add,
        _form(
            draft_referral,
            [
                {"threshold": "3", "kind": "red_packet", "amount_fen": "500"},
                {"threshold": "10", "kind": "gift", "gift_name": "定制保温杯"},
            ],
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    program = ReferralProgram.objects.get()
    assert program.goal == "card_opened"
    assert sorted(program.tiers.values_list("threshold", "kind")) == [
        (3, "red_packet"),
        (10, "gift"),
    ]

    lifecycle.campaign_submit(actor=cast.ops, campaign_id=draft_referral.pk)
    lifecycle.campaign_approve(actor=cast.compliance, campaign_id=draft_referral.pk, comment="ok")
    # What compliance approved is what runs: the tiers can no longer be edited.
    change = reverse("admin:referral_referralprogram_change", args=[program.pk])
    page = client.get(change)
    assert page.status_code == 200 and 'name="tiers-0-threshold"' not in page.content.decode()
    client.post(
        change, _form(draft_referral, [{"threshold": "1", "kind": "gift", "gift_name": "x"}])
    )
    assert ReferralTier.objects.filter(program=program).count() == 2


def test_a_gift_name_with_a_banned_phrase_is_stopped_at_submission(cast, draft_referral):
    program = ReferralProgram.objects.create(campaign=draft_referral, goal="added")
    ReferralTier.objects.create(
        program=program, threshold=1, kind="gift", gift_name="保本保息大礼包"
    )
    with pytest.raises(DomainError) as refused:
        lifecycle.campaign_submit(actor=cast.ops, campaign_id=draft_referral.pk)
    assert refused.value.code == "banned_phrase"


def test_ops_see_the_referral_pages_and_compliance_does_not(client, cast, program):
    client.force_login(cast.ops)
    for name in (
        "referralprogram",
        "invitation",
        "referralreward",
        "invitecode",
        "conversion",
        "segment",
    ):
        url = reverse(f"admin:referral_{name}_changelist")
        assert client.get(url).status_code == 200, name
    page = client.get(reverse("admin:referral_referralprogram_changelist")).content.decode()
    assert 'id="spreaders-link"' in page
    client.force_login(cast.compliance)
    assert client.get(reverse("admin:referral_invitation_changelist")).status_code == 403


def test_a_gift_tier_waits_for_its_day_then_ops_mark_it_handed_over(client, cast, corp):
    from campaigns.referral.models import ReferralReward
    from campaigns.referral.services import rewards_settle_due
    from tests.referral.conftest import after_workdays, code_of, referral_campaign, scan, scan_code

    program = referral_campaign(delay=2)
    ReferralTier.objects.filter(program=program, threshold=10).update(threshold=2)
    root, _f, _e = scan(corp, userid="lina", name="王老客")
    for name in ("朋友甲", "朋友乙"):
        scan_code(corp, code_of(program, root), name)
    gift = ReferralReward.objects.get(inviter=root, tier__kind="gift")
    assert gift.status == "waiting"
    assert rewards_settle_due(now=after_workdays(2)) == {"granted": 1}
    gift.refresh_from_db()
    assert gift.status == "granted" and "定制保温杯" in gift.note and gift.payout is None

    client.force_login(cast.ops)
    listing = client.get(reverse("admin:referral_referralprogram_changelist")).content.decode()
    assert '<td class="field-invites">2</td>' in listing
    assert '<td class="field-rewards">2</td>' in listing  # the coupon and the gift
    url = reverse("admin:referral_referralreward_changelist")
    page = client.get(url)
    assert page.status_code == 200 and "定制保温杯" in page.content.decode()
    response = client.post(
        url, {"action": "fulfil_gifts", "_selected_action": [str(gift.pk)]}, follow=True
    )
    assert response.status_code == 200
    gift.refresh_from_db()
    assert gift.gift_fulfilled_at is not None
