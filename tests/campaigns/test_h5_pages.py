"""The customer's H5 pages reached by a personal signed link, and the store staff's
redeem page (D7)."""

from __future__ import annotations

import json
import time

import pytest
from django.core import signing

from campaigns.links import claim_token_make, redeem_url, wallet_token_make
from campaigns.models import CampaignContact, ClaimRefusal, Coupon, MerchantStaff, Redemption
from contacts.links import join_token_make
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def claim_path(customer, campaign) -> str:
    return f"/h5/claim/{claim_token_make(customer_id=customer.pk, campaign_id=campaign.pk)}/"


def test_the_claim_page_shows_the_offer_and_marks_the_link_opened(client, template, customer):
    response = client.get(claim_path(customer, template.campaign))
    assert response.status_code == 200
    html = response.content.decode()
    assert "周三美食五折" in html and "满 100.00 元减 20.00 元" in html and "立即领取" in html
    contact = CampaignContact.objects.get(campaign=template.campaign, customer=customer)
    assert contact.opened_at is not None


def test_claiming_on_the_page_leads_to_my_coupons_with_a_qr_code(client, template, customer):
    response = client.post(claim_path(customer, template.campaign), {"template": template.pk})
    assert response.status_code == 302
    wallet = client.get(response["Location"])
    html = wallet.content.decode()
    coupon = Coupon.objects.get(customer=customer)
    assert 'src="data:image/png;base64,' in html
    assert coupon.code[:4] in html and "已领取" in html
    assert redeem_url(code=coupon.code).endswith(f"/m/redeem/?code={coupon.code}")
    # Claiming again: the limit of one per customer, shown on the page.
    again = client.post(claim_path(customer, template.campaign), {"template": template.pk})
    assert again.status_code == 409
    assert "您已达到本活动的领取上限" in again.content.decode()


def test_a_json_client_gets_json(client, template, customer):
    ok = client.post(claim_path(customer, template.campaign), {}, HTTP_ACCEPT="application/json")
    assert ok.status_code == 201 and ok.json()["coupons"][0]["code"]
    refused = client.post(
        claim_path(customer, template.campaign), {}, HTTP_ACCEPT="application/json"
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "limit_reached")


def _forged_tokens(customer, campaign):
    good = claim_token_make(customer_id=customer.pk, campaign_id=campaign.pk)
    value, _ts, sig = good.rsplit(":", 2)
    other = CustomerFactory()
    return {
        "garbage": "nonsense",
        "tampered_signature": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        # Somebody else's customer id in the payload with the original signature.
        "swapped_customer": signing.TimestampSigner(salt="x")
        .sign_object({"c": other.pk, "k": campaign.pk})
        .split(":")[0]
        + good[len(value) :],
        "join_link": join_token_make(external_userid=customer.external_userid),
        "wallet_link": wallet_token_make(customer_id=customer.pk),
        "other_salt": signing.TimestampSigner(salt="groups.join-link").sign_object(
            {"c": customer.pk, "k": campaign.pk}
        ),
    }


def test_a_forged_or_foreign_link_is_refused_and_nothing_changes(client, template, customer):
    for name, token in _forged_tokens(customer, template.campaign).items():
        for method in ("get", "post"):
            response = getattr(client, method)(
                f"/h5/claim/{token}/", HTTP_ACCEPT="application/json"
            )
            assert (response.status_code, response.json()["code"]) == (403, "link_invalid"), name
    page = client.get("/h5/claim/nonsense/")
    assert page.status_code == 403 and "链接无效" in page.content.decode()
    template.refresh_from_db()
    assert template.stock_remaining == template.total_stock
    assert not Coupon.objects.exists() and not CampaignContact.objects.exists()
    assert set(ClaimRefusal.objects.values_list("code", flat=True)) == {"link_invalid"}


def test_an_expired_link_says_so(client, template, customer, settings):
    settings.CAMPAIGN_CLAIM_LINK_MAX_AGE_S = 1
    path = claim_path(customer, template.campaign)
    time.sleep(2.1)
    response = client.post(path, HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    assert response.json() == {
        "code": "link_invalid",
        "message": "链接已过期，请联系您的客户经理重新发送",
    }
    assert ClaimRefusal.objects.get().reason == "expired"


def test_the_store_staff_page_redeems_once_per_form(client, template, merchant, store):
    staff_user = UserFactory(username="cashier")
    MerchantStaff.objects.create(user=staff_user, merchant=merchant, store=store)
    customer = CustomerFactory()
    client.post(claim_path(customer, template.campaign), {})
    coupon = Coupon.objects.get(customer=customer)
    client.force_login(staff_user)
    page = client.get(f"/m/redeem/?code={coupon.code}")
    assert page.status_code == 200
    html = page.content.decode()
    assert coupon.code[:4] in html and page.context["code"].replace("-", "") == coupon.code
    form = {"code": coupon.code, "amount": "158.00", "store": "FT01", "form_key": "tap-1"}
    done = client.post("/m/redeem/", form)
    assert done.status_code == 200 and "优惠 20.00 元" in done.content.decode()
    assert "顾客应付 138.00 元" in done.content.decode()
    double_tap = client.post("/m/redeem/", form)
    assert double_tap.status_code == 200 and "核销成功" in double_tap.content.decode()
    assert Redemption.objects.filter(coupon=coupon).count() == 1
    assert Redemption.objects.get().via == "h5"
    again = client.post("/m/redeem/", {**form, "form_key": "tap-2"})
    assert again.status_code == 409 and "优惠券已核销" in again.content.decode()
    bad = client.post("/m/redeem/", {**form, "amount": "1.234", "form_key": "tap-3"})
    assert bad.status_code == 400


def test_the_store_page_is_for_merchant_staff_only(client, cast):
    assert client.get("/m/redeem/").status_code == 302  # to the login page
    client.force_login(cast.manager_a)
    assert client.get("/m/redeem/").status_code == 403


def test_the_wallet_link_cannot_be_forged(client):
    response = client.get("/h5/coupons/nonsense/")
    assert response.status_code == 403 and "链接无效" in response.content.decode()


def test_a_json_error_body_never_leaks_more_than_code_message_and_reason(
    client, template, customer
):
    template.campaign.status = "paused"
    template.campaign.save()
    response = client.post(claim_path(customer, template.campaign), HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert json.loads(response.content) == {
        "code": "campaign_not_live",
        "message": "活动未开始或已结束",
    }


def test_the_pages_are_in_english_for_english_readers(client, template, customer):
    response = client.get(claim_path(customer, template.campaign), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert "Claim now" in html and "20.00 yuan off a spend of 100.00 yuan" in html
    refused = client.post(
        "/h5/claim/nonsense/", HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert refused.json()["message"] == "Invalid link"
