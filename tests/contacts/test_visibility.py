"""D14: a manager sees only their own customers, a branch manager their branch, ops all —
in the API, the admin and the pages alike (one selector: customers_visible_to)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from contacts.models import FollowRelation
from contacts.selectors import customers_visible_to
from tests.factories import CustomerFactory, FollowRelationFactory


@pytest.fixture
def book(cast):
    mine = CustomerFactory(name="张三")
    FollowRelationFactory(customer=mine, staff=cast.staff_a)
    theirs = CustomerFactory(name="李四")
    FollowRelationFactory(customer=theirs, staff=cast.staff_b)
    gone = CustomerFactory(name="王五")
    FollowRelationFactory(
        customer=gone, staff=cast.staff_a, status=FollowRelation.Status.REMOVED_BY_CUSTOMER
    )
    return {"mine": mine, "theirs": theirs, "gone": gone}


def test_each_role_sees_its_own_book(cast, book):
    assert set(customers_visible_to(cast.manager_a)) == {book["mine"]}
    assert set(customers_visible_to(cast.manager_b)) == {book["theirs"]}
    # The branch manager of SZ-FT sees lina's customers, not chenjing's (other branch).
    assert set(customers_visible_to(cast.branch_manager)) == {book["mine"]}
    assert set(customers_visible_to(cast.ops)) == set(book.values())


def test_manager_cannot_list_or_fetch_another_managers_customer_by_api(cast, book):
    api = APIClient()
    api.force_authenticate(cast.manager_a)
    listed = api.get("/api/customers/").json()["results"]
    assert [c["id"] for c in listed] == [book["mine"].pk]
    response = api.get(f"/api/customers/{book['theirs'].pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert api.get(f"/api/customers/{book['mine'].pk}/").status_code == 200


def test_manager_cannot_open_another_managers_customer_page(cast, book, client):
    client.force_login(cast.manager_a)
    page = client.get(reverse("customer-list")).content.decode()
    assert "张三" in page and "李四" not in page
    assert client.get(reverse("customer-detail", args=[book["theirs"].pk])).status_code == 404
    assert client.get(reverse("customer-detail", args=[book["mine"].pk])).status_code == 200


def test_admin_lists_and_opens_only_visible_customers(cast, book, client):
    # A branch manager with admin access still only sees the branch's customers.
    cast.branch_manager.is_staff = True
    cast.branch_manager.save()
    client.force_login(cast.branch_manager)
    listing = client.get(reverse("admin:contacts_customer_changelist")).content.decode()
    assert "张三" in listing and "李四" not in listing
    other = client.get(reverse("admin:contacts_customer_change", args=[book["theirs"].pk]))
    assert other.status_code in (302, 403, 404)
    client.force_login(cast.ops_admin)
    listing = client.get(reverse("admin:contacts_customer_changelist")).content.decode()
    assert "张三" in listing and "李四" in listing
