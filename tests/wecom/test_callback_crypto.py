"""Callback crypto: WeCom's published known answer, and round trips through our code."""

from __future__ import annotations

import pytest

from scrm.wecom.crypto import (
    CallbackError,
    Keys,
    decrypt_event,
    encrypt_echostr,
    encrypt_event,
    event_xml,
    signature,
)

# From WeCom's "加解密方案" page (token, EncodingAESKey, corp id, timestamp, nonce, message).
KAT_KEYS = Keys("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
KAT_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/"
    "sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJ"
    "YuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGU"
    "callcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA"
    "5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
KAT_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"


def kat_body() -> bytes:
    return (
        "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
        f"<Encrypt><![CDATA[{KAT_ENCRYPT}]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
    ).encode()


def _decrypt(query: dict, body: bytes) -> dict:
    """Decrypt a POST built by ``encrypt_event`` (its query and body) with the KAT keys."""
    return decrypt_event(
        KAT_KEYS,
        body=body,
        msg_signature=query["msg_signature"],
        timestamp=query["timestamp"],
        nonce=query["nonce"],
    )


def _round_trip(fields: dict) -> dict:
    return _decrypt(*encrypt_event(KAT_KEYS, event_xml(fields)))


def test_signature_matches_wecoms_published_example():
    assert signature("QDG6eK", "1409659813", "1372623149", KAT_ENCRYPT) == KAT_SIGNATURE


def test_wecoms_published_example_decrypts_to_its_message():
    fields = decrypt_event(
        KAT_KEYS,
        body=kat_body(),
        msg_signature=KAT_SIGNATURE,
        timestamp="1409659813",
        nonce="1372623149",
    )
    assert fields["Content"] == "hello"
    assert fields["MsgId"] == "4561255354251345929"
    assert fields["ToUserName"] == "wx5823bf96d3bd56c7"


@pytest.mark.parametrize(
    "msg_signature",
    ["0" * 40, "签名" * 20],
    ids=["tampered", "non-ascii characters: refused, not an error"],
)
def test_a_wrong_signature_is_refused(msg_signature):
    with pytest.raises(CallbackError) as err:
        decrypt_event(
            KAT_KEYS,
            body=kat_body(),
            msg_signature=msg_signature,
            timestamp="1409659813",
            nonce="1372623149",
        )
    assert err.value.status == 403


def test_an_event_encrypted_like_wecom_decrypts_back_to_the_same_fields():
    fields = {
        "Event": "change_external_contact",
        "ChangeType": "add_external_contact",
        "UserID": "lina",
        "State": "渠道A",
    }
    assert _round_trip(fields) == fields


def test_a_message_for_another_corp_is_refused():
    other = Keys(KAT_KEYS.token, KAT_KEYS.aes_key, "wwOTHERCORP")
    query, body = encrypt_event(other, event_xml({"Event": "x"}))
    body = body.replace(b"wwOTHERCORP", KAT_KEYS.corp_id.encode())
    with pytest.raises(CallbackError) as err:
        _decrypt(query, body)
    assert err.value.reason == "wrong corp id"


def test_echostr_round_trip():
    from scrm.wecom.crypto import decrypt_echostr

    q = encrypt_echostr(KAT_KEYS, "1616140317555161061", timestamp="1409659813", nonce="1372623149")
    assert (
        decrypt_echostr(
            KAT_KEYS,
            msg_signature=q["msg_signature"],
            timestamp=q["timestamp"],
            nonce=q["nonce"],
            echostr=q["echostr"],
        )
        == "1616140317555161061"
    )


def test_nested_fields_keep_their_shape_one_item_a_value_several_a_list():
    fields = {
        "Event": "change_external_chat",
        "ChangeType": "update",
        "MemChangeList": {"Item": ["wmA", "wmB"]},
        "BatchJob": {"JobId": "j1", "Result": {"Code": "0"}},
        "Empty": None,
        "Note": "回执 & <ok>",
    }
    assert _round_trip(fields) == fields
    assert _round_trip({"MemChangeList": {"Item": "wmA"}}) == {"MemChangeList": {"Item": "wmA"}}


@pytest.mark.parametrize("layer", ["envelope", "event"])
def test_a_document_type_declaration_is_refused_in_either_layer(layer):
    """Entities (a billion laughs, an external file) can only be declared in a DTD."""
    dtd = '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
    if layer == "event":
        query, body = encrypt_event(KAT_KEYS, dtd + "<xml><Event>&b;</Event></xml>")
    else:
        query, body = encrypt_event(KAT_KEYS, event_xml({"Event": "x"}))
        body = dtd.encode() + body
    with pytest.raises(CallbackError) as err:
        _decrypt(query, body)
    assert err.value.reason == f"malformed {layer} xml: DTD not allowed"
    assert err.value.status == 400


@pytest.mark.parametrize("layer", ["envelope", "event"])
def test_deeply_nested_xml_is_refused_in_either_layer(layer):
    nested = "<a>" * 2000 + "</a>" * 2000
    if layer == "event":
        query, body = encrypt_event(KAT_KEYS, f"<xml><Event>x</Event>{nested}</xml>")
    else:
        query, body = encrypt_event(KAT_KEYS, event_xml({"Event": "x"}))
        body = body.replace(b"</xml>", nested.encode() + b"</xml>")
    with pytest.raises(CallbackError) as err:
        _decrypt(query, body)
    assert err.value.status == 400
    assert err.value.reason.startswith(f"malformed {layer} xml: too")


def test_an_event_with_thousands_of_elements_is_refused():
    query, body = encrypt_event(KAT_KEYS, "<xml>" + "<Item>a</Item>" * 5000 + "</xml>")
    with pytest.raises(CallbackError) as err:
        _decrypt(query, body)
    assert err.value.reason == "malformed event xml: too deep or too many elements"
