"""The 企业红包 channel against the payment sandbox over HTTP: signatures, the rules, faults,
and bill-number idempotency (a retry after a timeout never pays twice)."""

from __future__ import annotations

import urllib.request

import pytest

from scrm.payments import protocol
from scrm.payments.adapter import payments
from scrm.payments.channels import Outcome, PayoutRequest

OPENID = "oSbxCustomerOpenid000001"


def packet(bill_no="1900000109202610100000000001", amount_fen=500, openid=OPENID):
    return PayoutRequest(
        bill_no=bill_no,
        openid=openid,
        amount_fen=amount_fen,
        act_name="入群红包",
        wishing="恭喜发财",
    )


def test_sign_matches_wechat_pays_published_example():
    # The example of WeChat Pay's signature guide (appid wxd930ea5d5a258f4f, …).
    fields = {
        "appid": "wxd930ea5d5a258f4f",
        "mch_id": "10000100",
        "device_info": "1000",
        "body": "test",
        "nonce_str": "ibuaiVcKdpRxkhJA",
    }
    key = "192006250b4c09247ec02edce69f6a2d"
    assert protocol.sign(fields, key) == "9A0A8659F005D6984697E2CA0A9CF3B7"
    assert (
        protocol.sign({**fields, "empty": "", "sign": "X"}, key)
        == "9A0A8659F005D6984697E2CA0A9CF3B7"
    )


def test_workwx_sign_covers_only_its_seven_fields_and_the_secret():
    fields = {
        "act_name": "a",
        "mch_billno": "b",
        "mch_id": "c",
        "nonce_str": "d",
        "re_openid": "e",
        "total_amount": 100,
        "wxappid": "f",
    }
    base = protocol.workwx_sign(fields, "s1")
    assert protocol.workwx_sign({**fields, "wishing": "other", "remark": "x"}, "s1") == base
    assert protocol.workwx_sign(fields, "s2") != base
    assert protocol.workwx_sign({**fields, "total_amount": 101}, "s1") != base


def test_xml_round_trip_and_refuses_entities():
    doc = protocol.to_xml({"a": "x]]>y", "b": 1, "c": "中文"})
    assert protocol.from_xml(doc) == {"a": "x]]>y", "b": "1", "c": "中文"}
    with pytest.raises(ValueError):
        protocol.from_xml(b'<!DOCTYPE x [<!ENTITY e "boom">]><xml><a>&e;</a></xml>')


def test_paid_once_and_the_same_bill_again_is_answered_paid_without_paying(payment_sandbox):
    first = payments.send(packet())
    assert first.outcome == Outcome.PAID and first.channel_ref
    again = payments.send(packet())
    assert again.outcome == Outcome.PAID and again.channel_ref == first.channel_ref
    state = payment_sandbox.state()
    assert state["money_moves"] == 1 and state["paid_fen"] == 500 and state["repeats"] == 1
    assert payments.query(packet().bill_no).outcome == Outcome.PAID
    assert payments.query("1900000109202610100000009999").outcome == Outcome.NOT_FOUND


def test_same_bill_with_other_parameters_is_refused(payment_sandbox):
    payments.send(packet())
    result = payments.send(packet(amount_fen=600))
    assert result.outcome == Outcome.REJECTED and result.error_code == "FATAL_ERROR"
    assert payment_sandbox.state()["money_moves"] == 1


@pytest.mark.parametrize("amount", [99, 20001])
def test_amount_outside_one_to_two_hundred_yuan_is_refused(payment_sandbox, amount):
    result = payments.send(packet(amount_fen=amount))
    assert result.outcome == Outcome.REJECTED and result.error_code == "MONEY_LIMIT"
    assert payment_sandbox.state()["money_moves"] == 0


def test_per_user_daily_limits(payment_sandbox):
    for i in range(10):
        assert payments.send(packet(bill_no=f"B{i:027d}", amount_fen=100)).paid
    eleventh = payments.send(packet(bill_no="B" + "9" * 27, amount_fen=100))
    assert eleventh.outcome == Outcome.USER_LIMIT and eleventh.error_code == "SENDNUM_LIMIT"
    other = "oSbxAnotherCustomer00002"
    for i in range(5):
        assert payments.send(packet(bill_no=f"C{i:027d}", amount_fen=20000, openid=other)).paid
    over = payments.send(packet(bill_no="C" + "9" * 27, amount_fen=100, openid=other))
    assert over.outcome == Outcome.USER_LIMIT and over.error_code == "RCVDAMOUNT_LIMIT"


@pytest.mark.parametrize(
    ("err_code", "outcome"),
    [
        ("SYSTEMERROR", Outcome.RETRY),
        ("NOTENOUGH", Outcome.RETRY),
        ("SENDNUM_LIMIT", Outcome.USER_LIMIT),
        ("PROCESSING", Outcome.UNKNOWN),
        ("NO_AUTH", Outcome.REJECTED),
    ],
)
def test_injected_errors_pay_nothing_and_say_what_to_do(payment_sandbox, err_code, outcome):
    payment_sandbox.fault(err_code=err_code)
    result = payments.send(packet())
    assert result.outcome == outcome and result.error_code == err_code
    assert payment_sandbox.state()["money_moves"] == 0
    assert payments.send(packet()).paid  # the fault was for one call; the same bill pays now


def test_insufficient_balance(payment_sandbox):
    payment_sandbox.control("config", balance_fen=400)
    result = payments.send(packet())
    assert result.outcome == Outcome.RETRY and result.error_code == "NOTENOUGH"


def test_timeout_after_paying_is_unknown_then_query_says_paid_and_a_resend_pays_nothing(
    payment_sandbox,
):
    payment_sandbox.fault(timeout_s=1.5, after_pay=True)
    result = payments.send(packet())
    assert result.outcome == Outcome.UNKNOWN and result.error_code == "TIMEOUT"
    assert payments.query(packet().bill_no).outcome == Outcome.PAID
    assert payments.send(packet()).paid
    assert payment_sandbox.state()["money_moves"] == 1


def test_rate_limit_answers_freq_limit(payment_sandbox):
    payment_sandbox.control("config", rate_per_min=60)  # one a second, no burst
    channel = payments.channel  # straight to the channel: the app's own pacer is bypassed
    assert channel.send(packet(bill_no="R" + "0" * 27)).paid
    limited = channel.send(packet(bill_no="R" + "1" * 27))
    assert limited.outcome == Outcome.RETRY and limited.error_code == "FREQ_LIMIT"


def test_pacer_keeps_the_app_under_the_rate(payment_sandbox, settings):
    payment_sandbox.control("config", rate_per_min=600)  # ten a second
    settings.PAYMENTS_RATE_PER_MIN = 600
    results = [
        payments.send(packet(bill_no=f"P{i:027d}", amount_fen=100, openid=f"oSbxPacer{i:015d}"))
        for i in range(15)
    ]
    assert all(r.paid for r in results)


def test_wrong_keys_are_refused(payment_sandbox, settings):
    settings.PAYMENTS_WORKWX_SECRET = "not-the-secret"
    result = payments.send(packet())
    assert result.outcome == Outcome.REJECTED and result.error_code == "SIGN_ERROR"
    settings.PAYMENTS_API_KEY = "not-the-merchant-key-000000000000"
    result = payments.send(packet())
    assert result.outcome == Outcome.REJECTED and result.error_code == "RETURN_FAIL"
    assert payment_sandbox.state()["money_moves"] == 0


def test_hmac_sha256_signatures(payment_sandbox, settings):
    settings.PAYMENTS_SIGN_TYPE = "HMAC-SHA256"
    assert payments.send(packet()).paid


def test_not_xml_is_a_return_code_fail(payment_sandbox):
    request = urllib.request.Request(  # noqa: S310
        f"{payment_sandbox.url}mmpaymkttransfers/sendworkwxredpack", data=b"{json}", method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        answer = protocol.from_xml(response.read())
    assert answer["return_code"] == "FAIL"


def test_bad_openid_is_refused(payment_sandbox):
    result = payments.send(packet(openid="nope"))
    assert result.outcome == Outcome.REJECTED and result.error_code == "OPENID_ERROR"
