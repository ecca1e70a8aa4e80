"""payout_schedule: the due day on the Chinese calendar, idempotency, budget, bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.payouts.models import Payout
from campaigns.payouts.services import payout_cancel, payout_schedule
from scrm.core.errors import DomainError
from scrm.core.workdays import SHANGHAI
from tests.factories import CustomerFactory, CustomerGroupFactory
from tests.payouts.factories import RedPacketCampaignFactory

pytestmark = pytest.mark.django_db

# Friday 26 September 2025, the last Friday before the National Day holiday (1–8 October;
# Sunday 28 September and Saturday 11 October are make-up working days).
FRIDAY_BEFORE_HOLIDAY = dt.datetime(2025, 9, 26, 10, 0, tzinfo=SHANGHAI)


def schedule(campaign, customer, **kw):
    values = dict(
        campaign=campaign,
        customer=customer,
        amount_fen=500,
        reason=Payout.Reason.RED_PACKET,
        source_key=f"test:{campaign.pk}:{customer.pk}",
    )
    values.update(kw)
    return payout_schedule(**values)


def test_five_working_days_after_a_friday_before_national_day_is_the_tenth_of_october():
    campaign, customer = RedPacketCampaignFactory(), CustomerFactory()
    payout = schedule(campaign, customer, delay_workdays=5, now=FRIDAY_BEFORE_HOLIDAY)
    # 28 Sep (make-up Sunday), 29, 30 Sep, 9, 10 Oct: the holiday week does not count.
    assert payout.due_on == dt.date(2025, 10, 10)
    assert payout.status == Payout.Status.SCHEDULED
    assert payout.bill_no.startswith("190000010920250926")
    assert len(payout.bill_no) == 28


def test_a_late_evening_in_shanghai_counts_as_that_shanghai_day():
    campaign, customer = RedPacketCampaignFactory(), CustomerFactory()
    # 23:30 on Thursday 25 Sep in Shanghai is 15:30 UTC the same day; the next working day is Friday.
    payout = schedule(
        campaign, customer, delay_workdays=1, now=dt.datetime(2025, 9, 25, 23, 30, tzinfo=SHANGHAI)
    )
    assert payout.due_on == dt.date(2025, 9, 26)


def test_same_source_key_twice_returns_the_entry_and_takes_the_budget_once():
    campaign, customer = RedPacketCampaignFactory(budget_fen=1000), CustomerFactory()
    first = schedule(campaign, customer)
    second = schedule(campaign, customer, amount_fen=900)
    assert second.pk == first.pk and second.amount_fen == 500
    campaign.refresh_from_db()
    assert campaign.budget_committed_fen == 500
    assert Payout.objects.count() == 1


def test_budget_exhausted_is_refused_and_nothing_is_written():
    campaign = RedPacketCampaignFactory(budget_fen=1000)
    schedule(campaign, CustomerFactory())
    schedule(campaign, CustomerFactory())
    with pytest.raises(DomainError) as exc:
        schedule(campaign, CustomerFactory())
    assert exc.value.code == "budget_exhausted"
    campaign.refresh_from_db()
    assert campaign.budget_committed_fen == 1000
    assert Payout.objects.count() == 2


def test_budget_reserved_by_the_caller_is_not_taken_again():
    campaign = RedPacketCampaignFactory(budget_fen=500, budget_committed_fen=500)
    payout = schedule(campaign, CustomerFactory(), budget_reserved=True)
    campaign.refresh_from_db()
    assert campaign.budget_committed_fen == 500 and payout.budget_reserved


def test_cancel_gives_the_budget_back_with_a_reason():
    campaign = RedPacketCampaignFactory(budget_fen=1000)
    payout = schedule(campaign, CustomerFactory())
    assert payout_cancel(payout=payout)
    payout.refresh_from_db()
    campaign.refresh_from_db()
    assert payout.status == Payout.Status.CANCELLED
    assert payout.cancel_reason == Payout.CancelReason.BY_OPS
    assert campaign.budget_committed_fen == 0
    with pytest.raises(DomainError) as exc:
        payout_cancel(payout=payout)
    assert exc.value.code == "payout_not_open"


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"amount_fen": 0}, "invalid_amount"),
        ({"amount_fen": 50}, "amount_out_of_range"),
        ({"amount_fen": 20001}, "amount_out_of_range"),
        ({"reason": "bonus"}, "invalid_reason"),
        ({"source_key": ""}, "invalid_source_key"),
        ({"delay_workdays": -1}, "invalid_delay"),
        ({"conditions": ["rich"]}, "invalid_condition"),
        ({"conditions": ["group_member"]}, "condition_needs_group"),
        ({"conditions": ["friend"]}, "condition_needs_staff"),
    ],
)
def test_bad_input_is_a_clear_error(kw, code):
    campaign = RedPacketCampaignFactory()
    with pytest.raises(DomainError) as exc:
        schedule(campaign, CustomerFactory(), **kw)
    assert exc.value.code == code
    assert Payout.objects.count() == 0
    campaign.refresh_from_db()
    assert campaign.budget_committed_fen == 0


def test_conditions_are_kept_for_the_payout_day():
    campaign, customer, group = (
        RedPacketCampaignFactory(),
        CustomerFactory(),
        CustomerGroupFactory(),
    )
    payout = schedule(campaign, customer, conditions=["group_member", "verified"], group=group)
    assert payout.conditions == ["group_member", "verified"]
    assert payout.group_id == group.pk


def test_a_red_packet_campaign_goes_to_review_only_with_its_packet_and_its_texts_checked(cast):
    from campaigns.payouts.red_packets import red_packet_configure
    from campaigns.services.lifecycle import campaign_create, campaign_submit

    now = FRIDAY_BEFORE_HOLIDAY
    data = {"name": "入群红包", "kind": "red_packet", "title": "入群领红包",
            "starts_at": now, "ends_at": now + dt.timedelta(days=400)}  # fmt: skip
    campaign = campaign_create(actor=cast.ops, data=data)
    with pytest.raises(DomainError) as exc:
        campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    assert exc.value.code == "no_red_packet"
    red_packet_configure(
        actor=cast.ops, campaign_id=campaign.pk, amount_fen=500, wishing="保本保息，稳赚不赔"
    )
    with pytest.raises(DomainError) as exc:
        campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    assert exc.value.code == "banned_phrase"
    assert "祝福语" in exc.value.message
    red_packet_configure(
        actor=cast.ops, campaign_id=campaign.pk, amount_fen=500, wishing="恭喜发财"
    )
    assert campaign_submit(actor=cast.ops, campaign_id=campaign.pk).status == "pending"
