"""A manager binding their customer to a bank record (D4, D14): only records of their
own scope and not bound to someone else, a few attempts an hour, every attempt audited.
Out-of-scope records get the same answer as missing ones, so the form tells nothing
about whose phone or customer number belongs to the bank."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from contacts.bank import bank_records_import
from contacts.models import BankRecord, Customer
from scrm.core.models import AuditEvent
from tests.factories import CustomerFactory, FollowRelationFactory

pytestmark = pytest.mark.django_db

OWN = {"customer_no": "SZ1", "phone": "13800001111", "debit_card": "是", "branch": "SZ-FT"}
OTHER_BRANCH = {
    "customer_no": "CD1",
    "phone": "13900002222",
    "aum_bracket": "gte6m",
    "branch": "CD-JJ",
}
NO_BRANCH = {"customer_no": "NB1", "phone": "13700003333"}


@pytest.fixture
def records(cast):
    bank_records_import(rows=[OWN, OTHER_BRANCH, NO_BRANCH])


def customer_of(staff) -> Customer:
    customer = CustomerFactory()
    FollowRelationFactory(customer=customer, staff=staff)
    return customer


def bind(user, customer, **body):
    api = APIClient()
    api.force_authenticate(user)
    return api.post(f"/api/customers/{customer.pk}/bind/", body, format="json")


def test_manager_binds_a_record_of_their_own_branch(cast, records):
    mine = customer_of(cast.staff_a)
    response = bind(cast.manager_a, mine, phone="138 0000 1111")
    assert response.status_code == 200, response.content
    assert response.json()["customer_no"] == "SZ1" and response.json()["ring"] == "inner"
    mine.refresh_from_db()
    assert mine.bank_record.customer_no == "SZ1"
    assert mine.verify_method == Customer.VerifyMethod.MANAGER_BINDING


@pytest.mark.parametrize(
    "body",
    [{"customer_no": "CD1"}, {"phone": "13900002222"}, {"customer_no": "NB1"}],
    ids=["other-branch-number", "other-branch-phone", "record-of-no-branch"],
)
def test_a_record_outside_the_managers_scope_looks_exactly_like_a_missing_one(cast, records, body):
    mine = customer_of(cast.staff_a)
    missing = {"customer_no": "NOPE"} if "customer_no" in body else {"phone": "13600009999"}
    out_of_scope = bind(cast.manager_a, mine, **body)
    not_found = bind(cast.manager_a, mine, **missing)
    assert out_of_scope.status_code == not_found.status_code == 404
    assert out_of_scope.json() == not_found.json()
    assert out_of_scope.json()["code"] == "bank_record_not_found"
    assert "message" in out_of_scope.json()
    mine.refresh_from_db()
    assert mine.bank_record_id is None and not mine.is_verified
    # Nothing of the record reached the manager.
    assert "CD1" not in out_of_scope.content.decode()


def test_the_other_branchs_manager_can_bind_their_own_record(cast, records):
    theirs = customer_of(cast.staff_b)
    assert bind(cast.manager_b, theirs, customer_no="CD1").status_code == 200
    assert bind(cast.manager_b, customer_of(cast.staff_b), customer_no="SZ1").status_code == 404


def test_branch_manager_binds_within_the_branch_and_ops_anywhere(cast, records):
    branch_customer = customer_of(cast.staff_a)
    assert bind(cast.branch_manager, branch_customer, customer_no="SZ1").status_code == 200
    assert bind(cast.branch_manager, customer_of(cast.staff_a), customer_no="CD1").status_code == (
        404
    )
    assert bind(cast.ops, customer_of(cast.staff_b), customer_no="NB1").status_code == 200


def test_a_record_bound_to_another_customer_is_refused(cast, records):
    first = customer_of(cast.staff_a)
    assert bind(cast.manager_a, first, customer_no="SZ1").status_code == 200
    second = customer_of(cast.staff_a)
    response = bind(cast.manager_a, second, phone="13800001111")
    assert response.status_code == 409
    assert response.json()["code"] == "bank_record_taken" and response.json()["message"]
    second.refresh_from_db()
    assert second.bank_record_id is None
    assert Customer.objects.filter(bank_record__customer_no="SZ1").count() == 1


def test_a_bound_customer_answers_the_same_whatever_number_is_tried(cast, records):
    """Rebinding is refused before any lookup: no "exists elsewhere" signal."""
    mine = customer_of(cast.staff_a)
    bind(cast.manager_a, mine, customer_no="SZ1")
    existing = bind(cast.manager_a, mine, customer_no="CD1")
    missing = bind(cast.manager_a, mine, customer_no="NOPE")
    assert existing.status_code == missing.status_code == 400
    assert existing.json() == missing.json()
    assert existing.json()["code"] == "already_verified"
    # The same record again is fine (idempotent).
    assert bind(cast.manager_a, mine, phone="13800001111").status_code == 200


def test_bind_attempts_are_limited_per_person_per_hour(cast, records):
    mine = customer_of(cast.staff_a)
    answers = [bind(cast.manager_a, mine, phone=f"1360000{i:04d}") for i in range(5)]
    assert [r.status_code for r in answers] == [404] * 5
    sixth = bind(cast.manager_a, mine, phone="13800001111")  # would have matched
    assert sixth.status_code == 429
    assert sixth.json()["code"] == "too_many_attempts"
    assert "尝试次数过多" in sixth.json()["message"]
    mine.refresh_from_db()
    assert mine.bank_record_id is None
    # Another person's attempts are counted apart.
    assert bind(cast.manager_b, customer_of(cast.staff_b), customer_no="CD1").status_code == 200


def test_every_bind_attempt_and_its_result_is_audited(cast, records):
    mine = customer_of(cast.staff_a)
    bind(cast.manager_a, mine, customer_no="CD1")
    bind(cast.manager_a, mine, phone="12345")
    bind(cast.manager_a, mine, phone="13800001111")
    theirs = customer_of(cast.staff_b)
    bind(cast.manager_a, theirs, customer_no="SZ1")
    events = list(
        AuditEvent.objects.filter(actor=cast.manager_a, details__operation="bank_bind").order_by(
            "id"
        )
    )
    assert [e.details["result"] for e in events] == [
        "bank_record_not_found",
        "phone_invalid",
        "bound",
        "not_found",
    ]
    assert all(e.action == AuditEvent.Action.CHANGE for e in events)
    assert events[0].target_id == str(mine.pk) and events[0].details["customer_no"] == "CD1"
    assert events[2].details["phone"] == "138****1111"  # masked, never the plain number
    assert events[2].details["bank_record"] == BankRecord.objects.get(customer_no="SZ1").pk
    assert events[2].ip == "127.0.0.1"
    assert events[3].target_id == str(theirs.pk)


def test_the_customer_page_shows_the_refusal(cast, records, client):
    mine = customer_of(cast.staff_a)
    client.force_login(cast.manager_a)
    page = client.post(reverse("customer-detail", args=[mine.pk]), {"customer_no": "CD1"})
    assert page.status_code == 200
    assert "未找到对应的行内客户" in page.content.decode()
    assert AuditEvent.objects.filter(details__result="bank_record_not_found").count() == 1
