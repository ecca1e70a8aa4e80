"""The bank's systems issue coupons through the API with a token and an
Idempotency-Key, under the same stock and limit guarantees as a claim (D7)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from campaigns.models import ClaimRefusal, Coupon
from tests.campaigns.conftest import verified_customer
from tests.campaigns.factories import CouponTemplateFactory
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/coupons/issue/"


@pytest.fixture
def bank():
    user = UserFactory(username="bank-systems")
    user.user_permissions.add(Permission.objects.get(codename="issue_coupons"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def issue(client, body, key="i-1"):
    return client.post(URL, data=body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_the_bank_issues_by_external_userid_or_customer_number(bank):
    template = CouponTemplateFactory(
        campaign__verified_only=True, campaign__per_customer_limit=None
    )
    customer = verified_customer("13600000000", customer_no="6222001")
    first = issue(bank, {"campaign": template.campaign_id, "customer_no": "6222001"}, key="a")
    assert first.status_code == 201, first.json()
    body = first.json()
    assert body["customer"] == customer.external_userid
    [coupon] = body["coupons"]
    assert Coupon.objects.get(code=coupon["code"]).source == "api"
    second = issue(
        bank,
        {"campaign": template.campaign_id, "external_userid": customer.external_userid},
        key="b",
    )
    assert second.status_code == 201
    assert Coupon.objects.filter(customer=customer).count() == 2


def test_a_retried_issue_is_answered_again_and_issues_nothing_more(bank, template):
    customer = CustomerFactory()
    body = {"campaign": template.campaign_id, "external_userid": customer.external_userid}
    first = issue(bank, body, key="once")
    again = issue(bank, body, key="once")
    assert (
        (again.status_code, again.json())
        == (first.status_code, first.json())
        == (201, first.json())
    )
    assert Coupon.objects.count() == 1
    assert issue(bank, {**body, "template": template.pk}, key="once").status_code == 422


def test_stock_limits_and_the_verified_gate_hold_for_the_bank_too(bank):
    template = CouponTemplateFactory(total_stock=1, campaign__per_customer_limit=1)
    customer = CustomerFactory()
    body = {"campaign": template.campaign_id, "external_userid": customer.external_userid}
    assert issue(bank, body, key="1").status_code == 201
    limit = issue(bank, body, key="2")
    assert (limit.status_code, limit.json()["code"]) == (409, "limit_reached")
    other = issue(bank, {**body, "external_userid": CustomerFactory().external_userid}, key="3")
    assert (other.status_code, other.json()["code"]) == (409, "out_of_stock")
    gated = CouponTemplateFactory(campaign__verified_only=True)
    refused = issue(
        bank, {"campaign": gated.campaign_id, "external_userid": customer.external_userid}, key="4"
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "not_eligible")
    assert set(ClaimRefusal.objects.values_list("source", flat=True)) == {"api"}


def test_unknown_customers_and_bad_input(bank, template):
    missing = issue(bank, {"campaign": template.campaign_id, "external_userid": "wmNOBODY"})
    assert (missing.status_code, missing.json()["code"]) == (404, "customer_not_found")
    neither = issue(bank, {"campaign": template.campaign_id}, key="n")
    assert (neither.status_code, neither.json()["code"]) == (400, "invalid")
    no_key = bank.post(URL, data={"campaign": template.campaign_id}, format="json")
    assert no_key.json()["code"] == "idempotency_key_required"


def test_only_users_allowed_to_issue_may_call_it(cast, template):
    anonymous = APIClient().post(URL, data={}, format="json", HTTP_IDEMPOTENCY_KEY="x")
    assert anonymous.status_code == 401
    manager = APIClient()
    manager.force_authenticate(cast.manager_a)
    denied = manager.post(URL, data={}, format="json", HTTP_IDEMPOTENCY_KEY="x")
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
