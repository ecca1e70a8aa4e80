"""The callback endpoint: store once and answer success; refuse bad input with a 4xx."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest

from contacts.models import Customer, FollowRelation
from scrm.wecom.crypto import Keys, encrypt_echostr
from scrm.wecom.inbox import inbox_waiting_process
from scrm.wecom.models import InboxEvent

from .helpers import app_keys, contact_event, signed_post

pytestmark = pytest.mark.django_db


def post(client, path, body):
    return client.post(path, data=body, content_type="text/xml")


def test_an_event_is_stored_once_and_answered_success(client):
    fields = contact_event(State="ch1", WelcomeCode="W1")
    for _ in range(3):  # WeCom's retries: fresh nonce each time, same event
        path, body = signed_post(fields)
        response = post(client, path, body)
        assert response.status_code == 200 and response.content == b"success"
    row = InboxEvent.objects.get()
    assert (row.event, row.change_type, row.status) == (
        "change_external_contact",
        "add_external_contact",
        "pending",
    )
    assert row.payload["WelcomeCode"] == "W1"


def test_url_verification_answers_the_plain_echostr(client):
    q = encrypt_echostr(
        app_keys(), "8427165413487514213", timestamp=str(int(time.time())), nonce="123456"
    )
    response = client.get("/wecom/callback/", q)
    assert response.status_code == 200
    assert response.content == b"8427165413487514213"


@pytest.mark.parametrize(
    "tamper, status",
    [
        ("signature", 403),
        ("stale", 403),
        ("undecryptable", 403),
        ("malformed", 400),
        ("wrong_corp", 403),
        ("missing_params", 400),
    ],
)
def test_bad_callbacks_get_a_4xx_and_store_nothing(client, tamper, status):
    fields = contact_event()
    path, body = signed_post(fields)
    if tamper == "signature":
        path = path.replace("msg_signature=", "msg_signature=0")
    elif tamper == "stale":
        path, body = signed_post(fields, timestamp=str(int(time.time()) - 3600))
    elif tamper == "undecryptable":
        # Validly signed garbage: the signature covers the ciphertext, so sign it ourselves.
        from urllib.parse import urlencode

        from scrm.wecom.crypto import signature

        ts, nonce, enc = str(int(time.time())), "991", "bm90IGFlcw=="
        body = f"<xml><ToUserName>{app_keys().corp_id}</ToUserName><Encrypt>{enc}</Encrypt></xml>".encode()
        path = "/wecom/callback/?" + urlencode(
            {
                "msg_signature": signature(app_keys().token, ts, nonce, enc),
                "timestamp": ts,
                "nonce": nonce,
            }
        )
        status = 400
    elif tamper == "malformed":
        body = b"<xml><Encrypt>abc</Encr"
    elif tamper == "wrong_corp":
        other = Keys(app_keys().token, app_keys().aes_key, "wwSOMEONEELSE")
        path, body = signed_post(fields, keys=other)
    elif tamper == "missing_params":
        path = "/wecom/callback/"
    response = post(client, path, body)
    assert response.status_code == status
    assert InboxEvent.objects.count() == 0


def test_the_same_delivery_posted_twice_is_answered_success_and_handled_once(client, wecom_sandbox):
    """WeCom counts any non-200 as a failure and retries: a repeat gets ``success`` too."""
    wecom_sandbox.seed_staff("lina")
    scan = wecom_sandbox.control("scan", userid="lina", welcome_code=False)
    path, body = signed_post(contact_event(ExternalUserID=scan["external_userid"]))
    for _ in range(2):
        response = post(client, path, body)
        assert response.status_code == 200 and response.content == b"success"
    assert InboxEvent.objects.count() == 1
    assert [outcome.status for outcome in inbox_waiting_process(limit=10)] == ["done"]
    customer = Customer.objects.get(external_userid=scan["external_userid"])
    assert FollowRelation.objects.filter(customer=customer).count() == 1


def post_query(client, query: dict, body: bytes = b"<xml/>"):
    return client.post(f"/wecom/callback/?{urlencode(query)}", data=body, content_type="text/xml")


@pytest.mark.parametrize("timestamp", ["9" * 309, "1e9", "-5", "+1700000000", "１７００", " 17"])
def test_a_timestamp_that_is_not_plain_digits_is_refused_before_anything_else(client, timestamp):
    path, body = signed_post(contact_event())
    query = {"msg_signature": "0" * 40, "timestamp": timestamp, "nonce": "1"}
    response = post_query(client, query, body)
    assert response.status_code == 400 and response.content == b"bad timestamp"
    get = client.get("/wecom/callback/", {**query, "echostr": "x"})
    assert get.status_code == 400
    assert InboxEvent.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        b"<xml>" + b"<a>" * 2000 + b"</a>" * 2000 + b"</xml>",
        b"<xml>" + b"<a/>" * 10000 + b"</xml>",
    ],
    ids=["deep", "wide"],
)
def test_an_unsigned_junk_body_is_refused_without_an_error(client, body):
    query = {"msg_signature": "0" * 40, "timestamp": str(int(time.time())), "nonce": "1"}
    response = post_query(client, query, body)
    assert response.status_code in (400, 403)
    assert InboxEvent.objects.count() == 0


def test_odd_headers_and_signatures_are_refused_without_an_error(client):
    path, body = signed_post(contact_event())
    bad_length = client.generic(
        "POST", path, data=body, content_type="text/xml", CONTENT_LENGTH="lots"
    )
    assert bad_length.status_code == 400
    query = {"msg_signature": "签名", "timestamp": str(int(time.time())), "nonce": "1"}
    assert post_query(client, query, body).status_code == 403
    assert InboxEvent.objects.count() == 0


def test_an_oversized_body_is_refused(client, settings):
    settings.WECOM_CALLBACK_MAX_BODY = 200
    path, body = signed_post(contact_event(Note="x" * 500))
    assert post(client, path, body).status_code == 413
    assert InboxEvent.objects.count() == 0


def test_the_trivial_bench_view_exists_only_when_enabled(client, settings):
    assert client.get("/wecom/ping-trivial/").status_code == 404
    settings.SCRM_BENCH_ENDPOINTS = True
    assert client.get("/wecom/ping-trivial/").content == b"success"
