"""Idempotency keys: the first answer is replayed for a retry, success or failure;
the same key with another request is refused."""

from __future__ import annotations

import pytest

from campaigns.models import IdempotencyRecord
from campaigns.services.idempotency import Answer, idempotent, request_fingerprint
from scrm.core.errors import DomainError

pytestmark = pytest.mark.django_db


def test_the_first_answer_is_replayed_and_the_work_done_once():
    calls = []

    def work():
        calls.append(1)
        return Answer(201, {"id": len(calls)})

    fp = request_fingerprint(method="POST", path="/x", data={"a": 1})
    first = idempotent(owner="m:1", key="k1", fingerprint=fp, action=work)
    again = idempotent(owner="m:1", key="k1", fingerprint=fp, action=work)
    assert (first.status, first.body) == (again.status, again.body) == (201, {"id": 1})
    assert again.replayed and calls == [1]
    # Another caller's key space is its own.
    assert idempotent(owner="m:2", key="k1", fingerprint=fp, action=work).body == {"id": 2}


def test_a_failure_is_stored_and_replayed_too_with_the_work_rolled_back():
    def work():
        IdempotencyRecord.objects.create(owner="side", key="effect", fingerprint="x")
        raise DomainError("already_redeemed", "优惠券已核销", status=409)

    fp = request_fingerprint(method="POST", path="/x", data={})
    first = idempotent(owner="m:1", key="k", fingerprint=fp, action=work)
    assert (first.status, first.body["code"]) == (409, "already_redeemed")
    assert not IdempotencyRecord.objects.filter(owner="side").exists()
    assert idempotent(owner="m:1", key="k", fingerprint=fp, action=work).body == first.body


def test_the_same_key_with_another_body_is_refused():
    def work():
        return Answer(201, {})

    idempotent(owner="m:1", key="k", fingerprint="a" * 64, action=work)
    with pytest.raises(DomainError) as info:
        idempotent(owner="m:1", key="k", fingerprint="b" * 64, action=work)
    assert (info.value.code, info.value.status) == ("idempotency_key_reused", 422)


@pytest.mark.parametrize("key", ["", None, "x" * 256, "含中文", "a b"])
def test_keys_must_be_short_visible_ascii(key):
    with pytest.raises(DomainError) as info:
        idempotent(owner="m", key=key, fingerprint="f", action=lambda: Answer(200, {}))
    assert info.value.status == 400
