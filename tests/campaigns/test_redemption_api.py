"""The redemption API is the contract a merchant's POS integrates against (D7):
its statuses, bodies and idempotency are kept exactly."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Coupon, CouponTemplate, Redemption
from campaigns.services.claims import coupon_claim
from campaigns.services.merchants import merchant_key_create, merchant_key_revoke
from tests.campaigns.factories import CouponTemplateFactory, MerchantFactory
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
URL = "/api/redemptions/"


@pytest.fixture
def pos(cast, merchant, store):
    _key, raw = merchant_key_create(actor=cast.ops, merchant_id=merchant.pk, name="收银机")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.raw_key = raw
    return client


def claimed(template) -> Coupon:
    return coupon_claim(
        customer_id=CustomerFactory().pk, campaign_id=template.campaign_id, template_id=template.pk
    ).coupons[0]


def redeem(client, body, key="k-1", **headers):
    return client.post(
        URL,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
        **headers,
    )


def test_a_redemption_answers_201_with_exactly_the_contracts_fields(pos, template):
    coupon = claimed(template)
    response = redeem(pos, {"code": coupon.code, "amount_fen": 15000, "store": "FT01"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "code", "status", "discount_fen", "redeemed_at"}
    assert (body["code"], body["status"], body["discount_fen"]) == (coupon.code, "redeemed", 2000)
    redemption = Redemption.objects.get(pk=body["id"])
    assert redemption.store.code == "FT01"
    assert body["redeemed_at"].endswith("+08:00")


def test_a_retried_key_gets_the_identical_answer_success_or_failure(pos, template):
    coupon = claimed(template)
    body = {"code": coupon.code, "amount_fen": 15000}
    first = redeem(pos, body, key="order-1")
    again = redeem(pos, body, key="order-1")
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again["Idempotent-Replayed"] == "true"
    assert Redemption.objects.count() == 1
    other = redeem(pos, body, key="order-2")
    assert (other.status_code, other.json()["code"]) == (409, "already_redeemed")
    retried = redeem(pos, body, key="order-2")
    assert (retried.status_code, retried.content) == (409, other.content)


def test_the_same_key_with_another_body_is_422(pos, template):
    coupon = claimed(template)
    redeem(pos, {"code": coupon.code, "amount_fen": 15000}, key="k")
    response = redeem(pos, {"code": coupon.code, "amount_fen": 16000}, key="k")
    assert (response.status_code, response.json()["code"]) == (422, "idempotency_key_reused")
    assert response.json()["message"]


def test_every_refusal_is_json_with_its_code(pos, cast, template):
    coupon = claimed(template)
    foreign = CouponTemplateFactory()
    foreign.merchants.set([MerchantFactory()])
    foreign_coupon = claimed(foreign)
    expired = claimed(template)
    Coupon.objects.filter(pk=expired.pk).update(
        valid_from=timezone.now() - timedelta(days=9),
        valid_until=timezone.now() - timedelta(days=1),
    )
    today = timezone.localdate().isoweekday()
    weekday = CouponTemplateFactory(valid_weekdays=[today % 7 + 1])
    not_today = claimed(weekday)
    cases = [
        ({"code": "ABCD" * 4, "amount_fen": 15000}, 404, "not_found"),
        ({"code": foreign_coupon.code, "amount_fen": 15000}, 403, "wrong_merchant"),
        ({"code": expired.code, "amount_fen": 15000}, 409, "expired"),
        ({"code": not_today.code, "amount_fen": 15000}, 409, "not_valid_now"),
        ({"code": coupon.code, "amount_fen": 9999}, 422, "below_minimum"),
        ({"code": coupon.code, "amount_fen": "abc"}, 400, "invalid"),
        ({"code": coupon.code, "amount_fen": -1}, 400, "invalid"),
        ({"code": coupon.code, "amount_fen": True}, 400, "invalid"),
        ({"amount_fen": 100}, 400, "invalid"),
        ({"code": coupon.code, "amount_fen": 15000, "store": "NOPE"}, 422, "store_not_found"),
        ([1, 2], 400, "invalid"),
    ]
    for i, (body, status, code) in enumerate(cases):
        response = redeem(pos, body, key=f"case-{i}")
        assert (response.status_code, response.json()["code"]) == (status, code), body
        assert response.json()["message"]
    assert Redemption.objects.count() == 0


def test_transport_level_mistakes_are_json_too(pos, template):
    coupon = claimed(template)
    bad_json = pos.post(
        URL, data="{nope", content_type="application/json", HTTP_IDEMPOTENCY_KEY="x"
    )
    assert (bad_json.status_code, bad_json.json()["code"]) == (400, "parse_error")
    no_key = pos.post(URL, data={"code": coupon.code, "amount_fen": 1}, format="json")
    assert (no_key.status_code, no_key.json()["code"]) == (400, "idempotency_key_required")
    get = pos.get(URL)
    assert get.status_code == 405 and get.json()["code"]


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer mk_nope_short", "Token abc", "Bearer a b"]
)
def test_a_bad_key_is_401(header, template):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = redeem(client, {"code": claimed(template).code, "amount_fen": 15000})
    assert response.status_code == 401
    assert response.json()["code"] in ("not_authenticated", "authentication_failed")


def test_a_revoked_key_stops_working_at_once(pos, cast, merchant, template):
    key = merchant.keys.get()
    merchant_key_revoke(actor=cast.ops, key_id=key.pk)
    response = redeem(pos, {"code": claimed(template).code, "amount_fen": 15000})
    assert response.status_code == 401
    assert key.key_hash not in pos.raw_key and len(key.key_hash) == 64


def test_a_reversal_returns_the_coupon_once(pos, template):
    coupon = claimed(template)
    redemption_id = redeem(pos, {"code": coupon.code, "amount_fen": 15000}).json()["id"]
    url = f"/api/redemptions/{redemption_id}/reverse/"
    first = pos.post(url, HTTP_IDEMPOTENCY_KEY="rev-1")
    assert first.status_code == 200
    assert set(first.json()) == {"id", "code", "status", "coupon_status", "reversed_at"}
    assert (first.json()["status"], first.json()["coupon_status"]) == ("reversed", "claimed")
    assert pos.post(url, HTTP_IDEMPOTENCY_KEY="rev-1").json() == first.json()
    second = pos.post(url)
    assert (second.status_code, second.json()["code"]) == (409, "already_reversed")
    coupon.refresh_from_db()
    assert coupon.status == "claimed"
    # The coupon can be redeemed again, with a new key.
    assert redeem(pos, {"code": coupon.code, "amount_fen": 15000}, key="k-2").status_code == 201
    missing = pos.post("/api/redemptions/999999/reverse/")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


def test_the_api_is_in_the_openapi_schema(cast):
    client = APIClient()
    client.force_authenticate(cast.ops)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert "/api/redemptions/" in paths
    assert "/api/redemptions/{id}/reverse/" in paths
    assert "/api/coupons/issue/" in paths
    params = {p["name"] for p in paths["/api/redemptions/"]["post"]["parameters"]}
    assert "Idempotency-Key" in params
    assert set(paths["/api/redemptions/"]["post"]["responses"]) >= {"201", "401", "409", "422"}


def test_percentage_coupons_discount_whole_fen(pos):
    template = CouponTemplateFactory(
        kind=CouponTemplate.Kind.PERCENT_OFF, percent_off=50, max_discount_fen=3000, min_spend_fen=0
    )
    coupon = claimed(template)
    assert redeem(pos, {"code": coupon.code, "amount_fen": 4999}).json()["discount_fen"] == 2499
