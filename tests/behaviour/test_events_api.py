"""The bank's systems report events through ``POST /api/events/``: a batch is recorded
once, each bad event is refused with its reason while the rest go in."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from contacts.models import BankRecord
from tagging.behaviour.models import Event, EventBatch, EventType
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def url():
    return reverse("behaviour:api-events")


@pytest.fixture
def bank():
    user = UserFactory(username="bank-systems")
    user.user_permissions.add(Permission.objects.get(codename="send_events"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def at(**delta) -> str:
    return (timezone.now() + dt.timedelta(**delta)).isoformat()


def event(event_id, customer, type="app_login", occurred_at=None, **properties):
    return {
        "event_id": event_id,
        "customer": customer,
        "type": type,
        "properties": properties,
        "occurred_at": occurred_at or at(minutes=-1),
    }


def send(client, url, events):
    return client.post(url, {"events": events}, format="json")


def test_a_batch_sent_twice_is_counted_once(bank, url):
    customers = [CustomerFactory() for _ in range(3)]
    batch = [
        event(f"e-{i}", {"external_userid": c.external_userid}, "product_viewed", category="基金")
        for i, c in enumerate(customers)
    ]
    first = send(bank, url, batch)
    assert first.status_code == 202, first.content
    assert first.json() == {"accepted": 3, "duplicate": 0, "rejected": 0, "rejections": []}
    rows = Event.objects.filter(source="api").order_by("event_id")
    assert [(e.event_id, e.customer_id, e.type) for e in rows] == [
        (f"e-{i}", c.pk, "product_viewed") for i, c in enumerate(customers)
    ]
    assert rows[0].properties == {"category": "基金"}
    (made,) = EventBatch.objects.all()  # handed to the rules above, once
    assert made.event_ids == sorted(e.pk for e in rows) and made.processed_at is None
    batches = 1

    again = send(bank, url, batch)
    assert again.status_code == 202
    assert again.json() == {"accepted": 0, "duplicate": 3, "rejected": 0, "rejections": []}
    assert Event.objects.count() == 3
    assert EventBatch.objects.count() == batches  # nothing new to evaluate


def test_an_unknown_customer_is_rejected_with_a_reason_and_the_rest_accepted(bank, url):
    known = CustomerFactory()
    body = send(
        bank,
        url,
        [
            event("a", {"external_userid": known.external_userid}),
            event("b", {"external_userid": "wmNOBODY"}),
            event("c", {"bank_customer_no": "NO-SUCH"}),
            event("d", {"external_userid": known.external_userid}, "deposit_made"),
        ],
    ).json()
    assert body["accepted"] == 2 and body["duplicate"] == 0 and body["rejected"] == 2
    assert [(r["index"], r["event_id"], r["code"]) for r in body["rejections"]] == [
        (1, "b", "unknown_customer"),
        (2, "c", "unknown_customer"),
    ]
    assert all(r["message"] for r in body["rejections"])
    assert set(Event.objects.values_list("event_id", flat=True)) == {"a", "d"}


def test_bad_type_too_old_future_and_malformed_events_are_rejected(bank, url):
    EventType.objects.create(code="closed_type", name="关闭的类型", accept_from_api=False)
    who = {"external_userid": CustomerFactory().external_userid}
    body = send(
        bank,
        url,
        [
            event("t1", who, "no_such_type"),
            event("t2", who, "material_opened"),  # built-in: only we record it
            event("t3", who, "closed_type"),
            event("o1", who, occurred_at=at(days=-91)),
            event("f1", who, occurred_at=at(minutes=10)),
            event("i1", who, occurred_at="2026-12-01T10:00:00"),  # no offset
            event("i2", who, occurred_at="yesterday"),
            {"event_id": "i3", "customer": {"phone": "138"}, "type": "app_login"},
            {**event("i4", who), "properties": [1, 2]},
            {**event("i5", who), "properties": {"x": "y" * 5000}},
            {**event("", who)},
            "not an object",
            event("ok", who, occurred_at=at(days=-89)),
            event("ok2", who, occurred_at=at(minutes=4)),
        ],
    )
    assert body.status_code == 202
    codes = {(r["event_id"], r["code"]) for r in body.json()["rejections"]}
    assert codes == {
        ("t1", "bad_type"),
        ("t2", "bad_type"),
        ("t3", "bad_type"),
        ("o1", "too_old"),
        ("f1", "in_future"),
        ("i1", "invalid"),
        ("i2", "invalid"),
        ("i3", "invalid"),
        ("i4", "invalid"),
        ("i5", "invalid"),
        ("", "invalid"),
    }
    assert body.json()["accepted"] == 2
    assert set(Event.objects.values_list("event_id", flat=True)) == {"ok", "ok2"}


def test_more_than_1000_events_are_refused_whole(bank, url):
    who = {"external_userid": CustomerFactory().external_userid}
    response = send(bank, url, [event(f"e{i}", who) for i in range(1001)])
    assert response.status_code == 400
    assert response.json()["code"] == "batch_too_large"
    assert not Event.objects.exists()
    bad = bank.post(url, {"events": "x"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"


def test_a_bank_customer_number_names_the_bank_record_and_its_wecom_customer(bank, url):
    linked = BankRecord.objects.create(customer_no="C100")
    alone = BankRecord.objects.create(customer_no="C200")
    friend = CustomerFactory(bank_record=linked, verified_at=timezone.now())
    unverified = CustomerFactory(bank_record=BankRecord.objects.create(customer_no="C300"))
    body = send(
        bank,
        url,
        [
            event("b1", {"bank_customer_no": "C100"}, "fund_purchased", amount_fen=100000),
            event("b2", {"bank_customer_no": "C200"}),
            event("b3", {"external_userid": friend.external_userid}),
            event("b4", {"external_userid": unverified.external_userid}),
        ],
    ).json()
    assert body["accepted"] == 4, body
    got = {e.event_id: (e.customer_id, e.bank_record_id) for e in Event.objects.all()}
    assert got == {
        "b1": (friend.pk, linked.pk),
        "b2": (None, alone.pk),  # no one's WeCom friend yet
        "b3": (friend.pk, linked.pk),
        "b4": (unverified.pk, None),  # a bank record it is not verified against
    }


def test_a_batch_costs_a_fixed_number_of_queries(bank, url):
    customers = [CustomerFactory() for _ in range(50)]
    batch = [
        event(f"q{i}", {"external_userid": c.external_userid}) for i, c in enumerate(customers)
    ]
    send(bank, url, batch[:1])  # warm the type cache
    with CaptureQueriesContext(connection) as queries:
        assert send(bank, url, batch[1:]).json()["accepted"] == 49
    small = len(queries)
    more = [CustomerFactory() for _ in range(200)]
    batch = [event(f"r{i}", {"external_userid": c.external_userid}) for i, c in enumerate(more)]
    with CaptureQueriesContext(connection) as queries:
        assert send(bank, url, batch).json()["accepted"] == 200
    assert len(queries) == small  # nothing per event


def test_without_the_permission_the_api_refuses(url):
    user = UserFactory(username="someone")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    who = {"external_userid": CustomerFactory().external_userid}
    response = send(client, url, [event("x", who)])
    assert response.status_code == 403 and response.json()["code"]
    assert APIClient().post(url, {"events": []}, format="json").status_code == 401
    assert not Event.objects.exists()


def test_a_reply_to_the_manager_is_reported_by_the_bank_systems(bank, url):
    # No WeCom callback says a customer replied: the bank's archive reports it.
    who = {"external_userid": CustomerFactory().external_userid}
    body = send(bank, url, [event("r1", who, "replied_to_manager", staff="lina")]).json()
    assert body["accepted"] == 1, body
    assert Event.objects.get().properties == {"staff": "lina"}


def test_ids_and_properties_with_quotes_commas_and_braces_are_stored_as_sent(bank, url):
    # The batch goes to PostgreSQL as array literals: what those quote must come back whole.
    customer = CustomerFactory(external_userid='wm"a,b{c}\\d')
    odd = ['e"1', "e,2", "e{3}", "e\\4", "NULL", "e 6"]
    properties = {"note": 'say "hi", {x} \\ back', "k,ey": "NULL", "n": 3}
    batch = [
        event(eid, {"external_userid": customer.external_userid}, "product_viewed", **properties)
        for eid in odd
    ]
    answer = send(bank, url, batch)
    assert answer.status_code == 202, answer.content
    assert answer.json()["accepted"] == len(odd)
    rows = {e.event_id: e for e in Event.objects.filter(source="api")}
    assert sorted(rows) == sorted(odd)
    assert all(e.customer_id == customer.pk and e.properties == properties for e in rows.values())
    assert send(bank, url, batch).json()["duplicate"] == len(odd)
