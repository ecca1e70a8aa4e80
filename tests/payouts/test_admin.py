"""The payout admin: ops see the ledger (filters, attempt history, masked openids), cancel
through the service, set a draft campaign's red packet, and read the red-packet report;
compliance reviewers see none of it (D14)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from campaigns.payouts.models import Payout, PayoutAttempt, PayoutPolicy
from campaigns.payouts.services import payout_schedule
from campaigns.services.lifecycle import campaign_create
from scrm.core.workdays import SHANGHAI
from tests.factories import CustomerFactory
from tests.payouts.factories import RedPacketCampaignFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 3, 10, tzinfo=SHANGHAI)


@pytest.fixture
def ledger():
    campaign = RedPacketCampaignFactory(name="双十二入群红包", budget_fen=10_000)
    paid = payout_schedule(
        campaign=campaign, customer=CustomerFactory(), amount_fen=500, reason="red_packet",
        source_key="admin:1", now=NOW,
    )  # fmt: skip
    Payout.objects.filter(pk=paid.pk).update(
        status="paid", paid_at=NOW, openid="oSbxSECRETOPENID1234567", attempt_count=1
    )
    PayoutAttempt.objects.create(payout_id=paid.pk, number=1, outcome="paid", started_at=NOW)
    waiting = payout_schedule(
        campaign=campaign, customer=CustomerFactory(), amount_fen=500, reason="red_packet",
        source_key="admin:2", now=NOW, delay_workdays=5,
    )  # fmt: skip
    return campaign, paid, waiting


def test_ops_list_filter_and_open_a_payout_with_its_attempts(client, cast, ledger):
    campaign, paid, waiting = ledger
    client.force_login(cast.ops)
    url = reverse("admin:payouts_payout_changelist")
    page = client.get(url)
    assert page.status_code == 200 and paid.bill_no in page.content.decode()
    for query in (
        "status__exact=paid",
        "cancel_reason__exact=left_group",
        f"campaign__id__exact={campaign.pk}",
        "due_on__gte=2026-12-01",
    ):
        assert client.get(f"{url}?{query}").status_code == 200, query
    filtered = client.get(f"{url}?status__exact=scheduled").content.decode()
    assert waiting.bill_no in filtered and paid.bill_no not in filtered
    detail = client.get(reverse("admin:payouts_payout_change", args=[paid.pk])).content.decode()
    assert "oSbx…4567" in detail and "oSbxSECRETOPENID1234567" not in detail
    assert "已支付" in detail  # the attempt history inline


def test_cancel_action_goes_through_the_service(client, cast, ledger):
    campaign, paid, waiting = ledger
    client.force_login(cast.ops)
    client.post(
        reverse("admin:payouts_payout_changelist"),
        {"action": "cancel_selected", "_selected_action": [paid.pk, waiting.pk]},
    )
    waiting.refresh_from_db()
    paid.refresh_from_db()
    campaign.refresh_from_db()
    assert waiting.status == "cancelled" and waiting.cancel_reason == "by_ops"
    assert paid.status == "paid"
    assert campaign.budget_committed_fen == 500


def test_red_packet_report_shows_states_budget_and_cost_per_member(client, cast, ledger):
    campaign, paid, waiting = ledger
    PayoutPolicy.objects.create(campaign=campaign, amount_fen=500, delay_workdays=5)
    client.force_login(cast.ops)
    listing = client.get(reverse("admin:payouts_redpacketcampaign_changelist")).content.decode()
    assert "双十二入群红包" in listing
    assert "5.00 元，入群后第 5 个工作日" in listing
    assert "10.00 / 100.00" in listing  # budget committed / cap
    assert "2.50" in listing  # 5 yuan paid over 2 members
    report = client.get(
        reverse("admin:payouts_redpacketcampaign_change", args=[campaign.pk])
    ).content.decode()
    assert "已发放" in report and "待发放" in report


def test_ops_set_a_draft_campaigns_red_packet_and_bad_values_are_refused(client, cast):
    draft = campaign_create(
        actor=cast.ops,
        data={
            "name": "新春红包", "kind": "red_packet", "title": "入群领红包",
            "starts_at": NOW, "ends_at": NOW + dt.timedelta(days=30),
        },
    )  # fmt: skip
    client.force_login(cast.ops)
    url = reverse("admin:payouts_payoutpolicy_add")
    base = {
        "campaign": draft.pk, "amount_fen": 50, "delay_workdays": 5, "conditions": ["group_member"],
        "wishing": "恭喜发财", "act_name": "新春红包", "sender_name": "",
    }  # fmt: skip
    refused = client.post(url, base)
    assert (
        refused.status_code == 200
        and "红包金额须在 1.0 元到 200.0 元之间" in refused.content.decode()
    )
    assert not PayoutPolicy.objects.exists()
    saved = client.post(url, {**base, "amount_fen": 500})
    assert saved.status_code == 302
    policy = PayoutPolicy.objects.get(campaign=draft)
    assert policy.amount_fen == 500 and policy.conditions == ["group_member"]
    assert Campaign.objects.get(pk=draft.pk).status == "draft"


def test_compliance_sees_no_payouts(client, cast, ledger):
    client.force_login(cast.compliance)
    for name in ("payout", "payoutpolicy", "redpacketcampaign"):
        assert client.get(reverse(f"admin:payouts_{name}_changelist")).status_code == 403, name
