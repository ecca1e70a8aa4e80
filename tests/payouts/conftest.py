"""Fixtures of the payout tests: red-packet campaigns made through the services, customers
WeCom knows (so convert_to_openid answers), and both sandboxes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import CustomerFactory
from tests.payments.sandbox_fixtures import _payment_sandbox_server, payment_sandbox  # noqa: F401


@pytest.fixture
def make_red_packet(cast):
    """``make_red_packet(groups=[...], amount_fen=500, delay_workdays=5, ...)``: a live
    red-packet campaign, created by ops, approved by compliance, put live by ops."""
    from campaigns.payouts.red_packets import red_packet_configure
    from campaigns.services.lifecycle import (
        campaign_approve,
        campaign_create,
        campaign_go_live,
        campaign_submit,
    )

    def make(
        *,
        groups=(),
        amount_fen=500,
        delay_workdays=5,
        conditions=("group_member",),
        budget_fen=1_000_000_00,
        daily_budget_fen=None,
        verified_only=False,
    ):
        campaign = campaign_create(
            actor=cast.ops,
            data={
                "name": "入群红包",
                "kind": "red_packet",
                "title": "入群领红包",
                "rules_text": "入群满5个工作日仍在群内，发放红包。",
                "starts_at": timezone.now() - timedelta(days=1),
                "ends_at": timezone.now() + timedelta(days=60),
                "budget_fen": budget_fen,
                "verified_only": verified_only,
                "audience_groups": list(groups),
            },
        )
        red_packet_configure(
            actor=cast.ops,
            campaign_id=campaign.pk,
            amount_fen=amount_fen,
            delay_workdays=delay_workdays,
            conditions=conditions,
            daily_budget_fen=daily_budget_fen,
        )
        campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
        campaign_approve(actor=cast.compliance, campaign_id=campaign.pk)
        return campaign_go_live(actor=cast.ops, campaign_id=campaign.pk)

    return make


@pytest.fixture
def wecom_customer(wecom_sandbox):
    """``wecom_customer(ext)``: a customer in our database and in WeCom (the sandbox)."""

    def make(external_userid: str, **kw):
        wecom_sandbox.control("customers", customers=[{"external_userid": external_userid}])
        return CustomerFactory(external_userid=external_userid, **kw)

    return make


@pytest.fixture(autouse=True)
def _fresh_red_packet_cache():
    """Which campaigns a group has is cached for a moment per process; tests start without."""
    from campaigns.payouts.red_packets import red_packet_campaigns_forget

    red_packet_campaigns_forget()
    yield
    red_packet_campaigns_forget()
