"""Inbox dedupe keys and WeCom errcode → exception mapping."""

from __future__ import annotations

from scrm.wecom.errors import (
    WeComConfigError,
    WeComPermanentError,
    WeComRateLimited,
    WeComRetryableError,
    error_for,
)
from scrm.wecom.inbox import dedupe_key


def add_event(**over):
    return {
        "Event": "change_external_contact",
        "ChangeType": "add_external_contact",
        "UserID": "lina",
        "ExternalUserID": "wmA",
        "CreateTime": "1700000000",
        "State": "ch1",
        "WelcomeCode": "CODE1",
        **over,
    }


def test_wecoms_retries_of_one_add_event_share_a_key():
    # A retry is the same event (same ids and CreateTime); nothing else matters.
    assert dedupe_key(add_event()) == dedupe_key(add_event(WelcomeCode="CODE1"))


def test_different_customers_staff_or_times_get_different_keys():
    base = dedupe_key(add_event())
    assert base != dedupe_key(add_event(ExternalUserID="wmB"))
    assert base != dedupe_key(add_event(UserID="chenjing"))
    assert base != dedupe_key(add_event(CreateTime="1700000001"))
    assert base != dedupe_key(add_event(ChangeType="del_follow_user"))


def test_two_member_changes_of_one_group_in_the_same_second_are_distinct():
    a = {
        "Event": "change_external_chat",
        "ChangeType": "update",
        "ChatId": "wr1",
        "UpdateDetail": "add_member",
        "CreateTime": "1",
        "LastMemVer": "1",
        "CurMemVer": "2",
    }
    b = {**a, "LastMemVer": "2", "CurMemVer": "3"}
    assert dedupe_key(a) != dedupe_key(b)


def test_messages_with_a_msgid_use_it_and_long_keys_fit_the_column():
    assert dedupe_key({"MsgType": "text", "MsgId": "42", "Content": "hi"}) == "msg|42"
    assert len(dedupe_key(add_event(ExternalUserID="x" * 400))) <= 191


def test_busy_and_limits_are_retryable():
    assert isinstance(error_for(-1, "system busy"), WeComRetryableError)
    assert isinstance(error_for(45033, "concurrency"), WeComRetryableError)
    assert isinstance(error_for(45009, "freq"), WeComRateLimited)


def test_bad_input_is_permanent_and_keeps_wecoms_message():
    err = error_for(40068, "invalid tagid, hint: [x]", endpoint="externalcontact/mark_tag")
    assert isinstance(err, WeComPermanentError) and not err.retryable
    assert err.errcode == 40068 and "invalid tagid" in str(err)


def test_permission_and_ip_problems_are_configuration_errors():
    assert isinstance(error_for(48002, "api forbidden"), WeComConfigError)
    assert isinstance(error_for(60020, "not allow to access from your ip"), WeComConfigError)
