"""The bank's systems report conversions (verified, card opened) through the API: a
referral whose goal is "opened a card" succeeds only then (D8). Token auth, an
Idempotency-Key, JSON errors."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from campaigns.models import Coupon
from campaigns.referral.models import Conversion, Invitation, ReferralProgram
from contacts.models import BankRecord
from tests.factories import UserFactory
from tests.referral.conftest import code_of, referral_campaign, scan, scan_code

pytestmark = pytest.mark.django_db
URL = "/api/referrals/conversions/"


@pytest.fixture
def bank():
    user = UserFactory(username="bank-systems")
    user.user_permissions.add(Permission.objects.get(codename="report_conversions"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def card_program(db):
    return referral_campaign(goal=ReferralProgram.Goal.CARD_OPENED)


def report(client, body, key="k-1"):
    return client.post(URL, data=body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_card_opened_report_makes_the_invite_succeed_and_pays_the_first_tier(
    corp, bank, card_program
):
    root, _f, _e = scan(corp, userid="lina", name="王老客")
    friend = scan_code(corp, code_of(card_program, root), "新朋友")
    invitation = Invitation.objects.get(invitee=friend)
    assert invitation.status == "pending"  # added the manager, no card yet

    first = report(bank, {"kind": "card_opened", "external_userid": friend.external_userid})
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["customer"] == friend.external_userid and body["created"] is True
    assert body["invitations_succeeded"] == [
        {"id": invitation.pk, "campaign": card_program.campaign_id, "depth": 1}
    ]
    invitation.refresh_from_db()
    assert invitation.status == "succeeded"
    assert Coupon.objects.filter(customer=root).count() == 1

    # The same request again (a retry): the same answer, byte for byte, nothing more.
    again = report(bank, {"kind": "card_opened", "external_userid": friend.external_userid})
    assert again.status_code == 201 and again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    # Reported again under a new key: known already, nothing more either.
    later = report(
        bank, {"kind": "card_opened", "external_userid": friend.external_userid}, key="k-2"
    )
    assert later.status_code == 200 and later.json()["created"] is False
    assert later.json()["invitations_succeeded"] == []
    assert Conversion.objects.count() == 1 and Coupon.objects.count() == 1


def test_a_customer_is_named_by_bank_customer_number(corp, bank, card_program):
    root, _f, _e = scan(corp, userid="lina", name="王老客")
    friend = scan_code(corp, code_of(card_program, root), "新朋友")
    record = BankRecord.objects.create(customer_no="6222009")
    friend.bank_record = record
    friend.save(update_fields=["bank_record"])
    response = report(bank, {"kind": "card_opened", "customer_no": "6222009"})
    assert response.status_code == 201
    assert Invitation.objects.get(invitee=friend).status == "succeeded"


def test_a_verified_report_does_not_satisfy_a_card_goal(corp, bank, card_program):
    root, _f, _e = scan(corp, userid="lina", name="王老客")
    friend = scan_code(corp, code_of(card_program, root), "新朋友")
    response = report(bank, {"kind": "verified", "external_userid": friend.external_userid})
    assert response.status_code == 201
    assert Invitation.objects.get(invitee=friend).status == "pending"


def test_bad_token_unknown_customer_bad_input_and_a_reused_key_are_json_errors(bank, db):
    anonymous = APIClient()
    response = report(anonymous, {"kind": "verified", "external_userid": "wmX"})
    assert response.status_code == 401 and response.json()["code"]
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = report(wrong, {"kind": "verified", "external_userid": "wmX"})
    assert response.status_code == 401 and "message" in response.json()

    response = report(bank, {"kind": "verified", "external_userid": "wmNOBODY"}, key="u")
    assert response.status_code == 404
    assert response.json()["code"] == "customer_not_found"

    response = report(bank, {"kind": "married", "external_userid": "wmX"}, key="bad")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    response = report(bank, {"kind": "verified"}, key="none")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    response = bank.post(URL, data={"kind": "verified", "external_userid": "wmX"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    response = report(bank, {"kind": "card_opened", "external_userid": "wmNOBODY"}, key="u")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"


def test_an_account_without_the_permission_is_refused(db):
    user = UserFactory(username="other-system")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    response = report(client, {"kind": "verified", "external_userid": "wmX"})
    assert response.status_code == 403 and response.json()["code"]


def test_the_conversion_api_is_in_the_openapi_schema(client, cast):
    client.force_login(cast.ops)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/referrals/conversions/"]["post"]
    assert operation["operationId"] == "referral_conversion_create"
    assert {"201", "200", "401", "404"} <= set(operation["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])


def test_the_bank_app_gets_a_customers_invite_link_and_qr(corp, program):
    from urllib.parse import urlsplit

    from campaigns.referral.links import invite_token_read
    from campaigns.referral.models import InviteCode

    user = UserFactory(username="mobile-bank")
    user.user_permissions.add(Permission.objects.get(codename="make_invite_links"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    root, _f, _e = scan(corp, userid="lina", name="王老客")
    body = {"campaign": program.campaign_id, "external_userid": root.external_userid}
    first = client.post("/api/referrals/invite-links/", data=body, format="json")
    assert first.status_code == 200, first.content
    code = InviteCode.objects.get(program=program, inviter=root)
    assert first.json()["qr_code"] == code.qr_code
    token = urlsplit(first.json()["url"]).path.rstrip("/").rsplit("/", 1)[1]
    assert invite_token_read(token).customer_id == root.pk
    again = client.post("/api/referrals/invite-links/", data=body, format="json")
    assert again.json()["qr_code"] == code.qr_code and InviteCode.objects.count() == 1
    unknown = client.post(
        "/api/referrals/invite-links/",
        data={"campaign": program.campaign_id + 99, "external_userid": root.external_userid},
        format="json",
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    # The conversions account may not make links.
    bank = UserFactory(username="bank-only")
    bank.user_permissions.add(Permission.objects.get(codename="report_conversions"))
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=bank).key}")
    refused = other.post("/api/referrals/invite-links/", data=body, format="json")
    assert refused.status_code == 403
