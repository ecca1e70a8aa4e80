"""The due-entry job against both sandboxes over HTTP: the calendar, payout-day conditions,
retries under one bill number (paid exactly once), caps, giving up."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from campaigns.payouts.models import Payout, PayoutAttempt, PayoutDayCounter
from campaigns.payouts.services import payout_schedule, payouts_pay_due
from scrm.core.workdays import SHANGHAI
from tests.factories import CustomerGroupFactory, GroupMemberFactory
from tests.payouts.factories import RedPacketCampaignFactory

pytestmark = pytest.mark.django_db

FRIDAY_BEFORE_HOLIDAY = dt.datetime(2025, 9, 26, 10, 0, tzinfo=SHANGHAI)
TODAY_10AM = dt.datetime(2026, 12, 3, 10, 0, tzinfo=SHANGHAI)  # a Thursday


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def schedule(campaign, customer, **kw):
    values = dict(
        campaign=campaign,
        customer=customer,
        amount_fen=500,
        reason=Payout.Reason.RED_PACKET,
        source_key=f"t:{campaign.pk}:{customer.pk}:{kw.pop('n', 0)}",
        now=TODAY_10AM,
    )
    values.update(kw)
    return payout_schedule(**values)


def test_red_packet_five_working_days_after_friday_before_holiday_lands_on_the_right_day(
    payment_sandbox, wecom_customer
):
    campaign = RedPacketCampaignFactory()
    customer = wecom_customer("wmFRIDAY01")
    payout = schedule(campaign, customer, delay_workdays=5, now=FRIDAY_BEFORE_HOLIDAY)
    assert payout.due_on == dt.date(2025, 10, 10)
    # Every day up to the 9th (the holiday week included) the job pays nothing.
    for day in (
        dt.date(2025, 9, 29),
        dt.date(2025, 10, 1),
        dt.date(2025, 10, 8),
        dt.date(2025, 10, 9),
    ):
        assert payouts_pay_due(now=at(day)).get("claimed") == 0
    assert payment_sandbox.state()["money_moves"] == 0
    report = payouts_pay_due(now=at(dt.date(2025, 10, 10)))
    assert report["sent_paid"] == 1
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID and payout.paid_at == at(dt.date(2025, 10, 10))
    bills = payment_sandbox.bills()
    assert [(b["bill_no"], b["amount"]) for b in bills] == [(payout.bill_no, 500)]
    assert bills[0]["openid"] == payout.openid and payout.openid.startswith("oSbx")


def test_send_timing_out_after_paying_is_retried_and_paid_exactly_once(
    payment_sandbox, wecom_customer
):
    campaign = RedPacketCampaignFactory()
    payout = schedule(campaign, wecom_customer("wmTIMEOUT1"))
    payment_sandbox.fault(timeout_s=1.5, after_pay=True)  # pays, then answers too late
    now = at(dt.date(2026, 12, 3))
    first = payouts_pay_due(now=now)
    assert first["sent_unknown"] == 1
    payout.refresh_from_db()
    assert payout.status == Payout.Status.FAILED and payout.needs_query
    assert payout.last_error.startswith("TIMEOUT")
    # Not before its backoff; then the job asks the channel first and records the payment.
    assert payouts_pay_due(now=now).get("claimed") == 0
    second = payouts_pay_due(now=now + dt.timedelta(minutes=5))
    assert second["sent_paid"] == 1
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID and payout.attempt_count == 2
    attempts = list(payout.attempts.values_list("number", "kind", "outcome", "error_code"))
    assert attempts == [(1, "send", "unknown", "TIMEOUT"), (2, "query", "paid", "")]
    state = payment_sandbox.state()
    assert state["money_moves"] == 1 and state["paid_fen"] == 500
    assert state["openids_paid_more_than_once"] == 0
    # Nothing more to do: a paid entry is never sent again.
    assert payouts_pay_due(now=now + dt.timedelta(days=1)).get("claimed") == 0


def test_system_errors_are_retried_with_the_same_bill_number(payment_sandbox, wecom_customer):
    payout = schedule(RedPacketCampaignFactory(), wecom_customer("wmSYSERR01"))
    payment_sandbox.fault(err_code="SYSTEMERROR", times=2)
    now = at(dt.date(2026, 12, 3))
    for minutes in (0, 10, 20):
        payouts_pay_due(now=now + dt.timedelta(minutes=minutes))
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID and payout.attempt_count == 3
    assert list(payout.attempts.values_list("outcome", flat=True)) == ["failed", "failed", "paid"]
    assert [b["bill_no"] for b in payment_sandbox.bills()] == [payout.bill_no]


def test_a_worker_that_died_mid_send_is_taken_over_and_pays_once(
    payment_sandbox, wecom_customer, settings
):
    payout = schedule(RedPacketCampaignFactory(), wecom_customer("wmDIED0001"))
    now = at(dt.date(2026, 12, 3))
    payouts_pay_due(now=now)  # paid in the channel ...
    # ... but suppose the worker was killed before it recorded that: the entry is still
    # "sending" under its (expired) claim.
    Payout.objects.filter(pk=payout.pk).update(
        status=Payout.Status.SENDING, paid_at=None, lease_until=now, attempt_count=1
    )
    report = payouts_pay_due(now=now + dt.timedelta(seconds=settings.PAYOUTS_LEASE_S + 1))
    assert report["sent_paid"] == 1
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    assert payout.attempts.order_by("number").last().kind == "query"
    assert payment_sandbox.state()["money_moves"] == 1


def test_not_enough_balance_gives_up_after_the_attempts_and_gives_the_budget_back(
    payment_sandbox, wecom_customer, settings
):
    settings.PAYOUTS_MAX_ATTEMPTS = 3
    campaign = RedPacketCampaignFactory(budget_fen=1000)
    payout = schedule(campaign, wecom_customer("wmNOMONEY1"))
    payment_sandbox.control("config", balance_fen=100)
    now = at(dt.date(2026, 12, 3))
    for hours in range(4):
        payouts_pay_due(now=now + dt.timedelta(hours=hours))
    payout.refresh_from_db()
    campaign.refresh_from_db()
    assert payout.status == Payout.Status.GIVEN_UP and payout.attempt_count == 3
    assert payout.last_error.startswith("NOTENOUGH")
    assert campaign.budget_committed_fen == 0
    assert PayoutDayCounter.objects.get(scope=f"customer:{payout.customer_id}").count == 0
    assert payment_sandbox.state()["money_moves"] == 0


def test_customer_who_left_the_group_before_the_payout_day_is_not_paid_and_the_entry_says_why(
    payment_sandbox, wecom_customer
):
    campaign = RedPacketCampaignFactory(budget_fen=1000)
    group = CustomerGroupFactory()
    stays, leaves = wecom_customer("wmSTAYS001"), wecom_customer("wmLEAVES01")
    GroupMemberFactory(group=group, customer=stays)
    gone = GroupMemberFactory(group=group, customer=leaves)
    for customer in (stays, leaves):
        schedule(
            campaign,
            customer,
            delay_workdays=5,
            conditions=["group_member"],
            group=group,
            now=FRIDAY_BEFORE_HOLIDAY,
        )
    gone.is_active = False
    gone.save()
    payouts_pay_due(now=at(dt.date(2025, 10, 10)))
    paid = Payout.objects.get(customer=stays)
    cancelled = Payout.objects.get(customer=leaves)
    assert paid.status == Payout.Status.PAID
    assert cancelled.status == Payout.Status.CANCELLED
    assert cancelled.cancel_reason == Payout.CancelReason.LEFT_GROUP
    assert cancelled.get_cancel_reason_display() == "发放日前已退群"
    assert not cancelled.attempts.exists()
    campaign.refresh_from_db()
    assert campaign.budget_committed_fen == 500  # the leaver's 5 yuan went back
    assert [b["openid"] for b in payment_sandbox.bills()] == [paid.openid]


def test_customer_daily_cap_defers_to_the_next_day(payment_sandbox, wecom_customer, settings):
    settings.PAYOUTS_CUSTOMER_DAILY_COUNT = 1
    campaign, customer = RedPacketCampaignFactory(), wecom_customer("wmCAPPED01")
    first, second = schedule(campaign, customer, n=1), schedule(campaign, customer, n=2)
    today = dt.date(2026, 12, 3)
    report = payouts_pay_due(now=at(today))
    assert report["sent_paid"] == 1 and report["deferred_customer"] == 1
    waiting = Payout.objects.get(status=Payout.Status.SCHEDULED)
    assert waiting.due_on == today + dt.timedelta(days=1) and waiting.deferrals == 1
    payouts_pay_due(now=at(today + dt.timedelta(days=1)))
    assert set(Payout.objects.values_list("status", flat=True)) == {"paid"}
    assert {first.pk, second.pk} == set(Payout.objects.values_list("pk", flat=True))


def test_campaign_daily_budget_spreads_payouts_over_days(payment_sandbox, wecom_customer):
    from campaigns.payouts.models import PayoutPolicy

    campaign = RedPacketCampaignFactory()
    PayoutPolicy.objects.create(campaign=campaign, amount_fen=500, daily_budget_fen=1000)
    for i in range(3):
        schedule(campaign, wecom_customer(f"wmBUDGET{i:02d}"))
    today = dt.date(2026, 12, 3)
    assert payouts_pay_due(now=at(today))["sent_paid"] == 2
    assert payouts_pay_due(now=at(today + dt.timedelta(days=1)))["sent_paid"] == 1
    assert (
        PayoutDayCounter.objects.get(scope=f"campaign:{campaign.pk}", day=today).amount_fen == 1000
    )


def test_channel_user_limit_waits_for_tomorrow(payment_sandbox, wecom_customer):
    payment_sandbox.fault(err_code="SENDNUM_LIMIT")
    payout = schedule(RedPacketCampaignFactory(), wecom_customer("wmLIMIT001"))
    today = dt.date(2026, 12, 3)
    payouts_pay_due(now=at(today))
    payout.refresh_from_db()
    assert payout.status == Payout.Status.SCHEDULED and payout.due_on == today + dt.timedelta(
        days=1
    )
    assert payout.counted_on is None
    payouts_pay_due(now=at(today + dt.timedelta(days=1)))
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    assert list(payout.attempts.values_list("outcome", flat=True)) == ["deferred", "paid"]


def test_customer_without_a_payment_openid_is_cancelled_with_the_reason(
    payment_sandbox, wecom_sandbox
):
    from tests.factories import CustomerFactory

    campaign = RedPacketCampaignFactory(budget_fen=500)
    payout = schedule(campaign, CustomerFactory(external_userid="wmNOTINWECOM"))
    payouts_pay_due(now=at(dt.date(2026, 12, 3)))
    payout.refresh_from_db()
    campaign.refresh_from_db()
    assert payout.status == Payout.Status.CANCELLED
    assert payout.cancel_reason == Payout.CancelReason.NO_OPENID
    assert campaign.budget_committed_fen == 0


@pytest.mark.django_db(transaction=True)
def test_the_claim_skips_rows_another_worker_holds(payment_sandbox, wecom_customer):
    import psycopg2

    from campaigns.payouts.services import PayRun, _claim

    campaign = RedPacketCampaignFactory()
    a = schedule(campaign, wecom_customer("wmLOCKED01"))
    b = schedule(campaign, wecom_customer("wmFREE0001"))
    params = connection.get_connection_params()
    other = psycopg2.connect(
        **{
            k: v
            for k, v in params.items()
            if k in ("host", "port", "user", "password", "database", "dbname", "NAME")
        }
    )
    try:
        with other.cursor() as cursor:  # another worker's claim, still open
            cursor.execute("SELECT id FROM payouts_payout WHERE id = %s FOR UPDATE", [a.pk])
        items, found = _claim(now=TODAY_10AM, n=10, run=PayRun())
        assert found and [i.pk for i in items] == [b.pk]
    finally:
        other.rollback()
        other.close()
    a.refresh_from_db()
    assert a.status == Payout.Status.SCHEDULED and not a.attempts.exists()
    assert PayoutAttempt.objects.filter(payout=b, kind="send").count() == 1
