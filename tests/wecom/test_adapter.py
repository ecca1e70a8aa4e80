"""The adapter against the sandbox over HTTP: token, retries, backoff, errors, call log."""

from __future__ import annotations

import time

import pytest

from scrm.wecom.adapter import wecom
from scrm.wecom.errors import WeComPermanentError, WeComRetryableError
from scrm.wecom.models import ApiCall

pytestmark = pytest.mark.django_db


@pytest.fixture
def corp(wecom_sandbox):
    wecom_sandbox.seed_staff("lina", "chenjing")
    return wecom_sandbox


def test_the_token_comes_from_the_configured_base_and_is_shared(corp):
    wecom.follow_users()
    wecom.follow_users()
    assert len(corp.calls("gettoken")) == 1
    assert ApiCall.objects.filter(endpoint="gettoken", errcode=0).count() == 1


def test_a_token_invalidated_early_is_refreshed_once_and_the_call_repeated(corp):
    wecom.follow_users()
    corp.control("tokens/expire")
    assert wecom.follow_users() == ["lina", "chenjing"]
    log = list(ApiCall.objects.order_by("id").values_list("endpoint", "errcode"))
    assert log[-3:] == [
        ("externalcontact/get_follow_user_list", 42001),
        ("gettoken", 0),
        ("externalcontact/get_follow_user_list", 0),
    ]


def test_a_short_lived_token_is_renewed_before_it_expires(corp):
    corp.control("config", token_ttl_s=2)
    wecom.follow_users()
    time.sleep(2.2)
    wecom.follow_users()
    assert [c["errcode"] for c in corp.calls("externalcontact/get_follow_user_list")] == [0, 0]
    assert len(corp.calls("gettoken")) == 2


def test_system_busy_is_retried_with_backoff(corp):
    corp.fault("externalcontact/get_follow_user_list", errcode=-1, times=2)
    assert wecom.follow_users() == ["lina", "chenjing"]
    assert list(
        ApiCall.objects.filter(endpoint="externalcontact/get_follow_user_list")
        .order_by("id")
        .values_list("errcode", "attempt")
    ) == [(-1, 1), (-1, 2), (0, 3)]


def test_frequency_limit_pauses_the_api_then_succeeds(corp, settings):
    settings.WECOM_RATE_BLOCK_S = 0.5
    corp.fault("externalcontact/get_follow_user_list", errcode=45009, times=1)
    started = time.monotonic()
    assert wecom.follow_users()
    assert time.monotonic() - started >= 0.45  # waited out the block instead of hammering
    assert [c["errcode"] for c in corp.calls("externalcontact/get_follow_user_list")] == [45009, 0]


def test_server_errors_and_timeouts_are_retried(corp, settings):
    settings.WECOM_HTTP_TIMEOUT_S = 0.3
    corp.fault("externalcontact/get_follow_user_list", http_status=502, times=1)
    corp.fault("externalcontact/get_follow_user_list", timeout_s=0.6, times=1)
    wecom._clients.clear()  # pick up the shorter timeout
    assert wecom.follow_users()
    errors = list(
        ApiCall.objects.filter(endpoint="externalcontact/get_follow_user_list")
        .order_by("id")
        .values_list("http_status", "errmsg")
    )
    assert errors[0] == (502, "HTTP 502") and errors[1][1] == "timeout" and errors[2] == (200, "")


def test_retries_are_bounded(corp, settings):
    settings.WECOM_RETRY_MAX_ATTEMPTS = 3
    corp.fault("externalcontact/get_follow_user_list", errcode=-1, times=-1)
    with pytest.raises(WeComRetryableError):
        wecom.follow_users()
    assert ApiCall.objects.filter(endpoint="externalcontact/get_follow_user_list").count() == 3


def test_permanent_errors_are_raised_at_once_with_wecoms_message(corp):
    with pytest.raises(WeComPermanentError) as err:
        wecom.tags_mark(userid="lina", external_userid="wmNOBODY", add=["etX"])
    assert err.value.errcode == 84061 and "not external contact" in err.value.errmsg
    assert ApiCall.objects.filter(endpoint="externalcontact/mark_tag").count() == 1


def test_the_call_log_holds_no_personal_data(corp):
    r = corp.control("scan", userid="lina", name="张三")
    from scrm.wecom.client import triggered_by

    with triggered_by("test:who"):
        wecom.customer_get(r["external_userid"])
    call = ApiCall.objects.get(endpoint="externalcontact/get")
    assert call.triggered_by == "test:who"
    assert r["external_userid"] not in str(ApiCall.objects.values_list())
    assert "张三" not in str(ApiCall.objects.values_list())


def test_paged_apis_return_every_page(corp):
    for _ in range(5):
        corp.control("scan", userid="lina", welcome_code=False)
    got = list(wecom.customers_by_user(["lina"], limit=2))
    assert len(got) == 5 and len(corp.calls("externalcontact/batch/get_by_user")) == 3
