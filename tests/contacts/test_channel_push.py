"""D2: a channel's push to WeCom holds no database lock while WeCom answers.

The push claims what to send in a short transaction, calls WeCom with no
transaction open and records the result in a second one; an edit made while a
slow call is under way is neither blocked nor lost (here or in WeCom).
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from contacts.channels import channel_code_delete, channel_code_push
from contacts.models import ChannelCode
from scrm.core.errors import DomainError
from tests.factories import ChannelCodeFactory

pytestmark = pytest.mark.django_db(transaction=True)

WAY_CALLS = ("contact_way_add", "contact_way_get", "contact_way_update", "contact_way_delete")


@pytest.fixture
def corp(wecom_sandbox, cast):
    wecom_sandbox.seed_staff("lina", "chenjing")
    return wecom_sandbox


@pytest.fixture
def no_transaction_during_calls(wecom_calls_outside_transactions):
    return wecom_calls_outside_transactions(*WAY_CALLS)


def _ways(sandbox) -> dict[str, dict]:
    return {w["config_id"]: w for w in sandbox.state()["contact_ways"]}


def _wait(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _fault_taken(sandbox, endpoint: str):
    def taken() -> bool:
        with sandbox.sandbox.lock:
            return not sandbox.sandbox.state.faults.get(endpoint)

    return taken


class _Push(threading.Thread):
    """``channel_code_push`` in another thread (its own database connection)."""

    def __init__(self, channel_id: int):
        super().__init__(daemon=True)
        self.channel_id = channel_id
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            channel_code_push(channel_id=self.channel_id)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connection.close()


def test_wecom_is_called_with_no_transaction_open_from_the_admin_and_the_service(
    corp, cast, client, no_transaction_during_calls
):
    client.force_login(cast.ops)
    form = {
        "name": "网点海报",
        "channel_type": "offline_event",
        "state": "poster-1",
        "skip_verify": "on",
        "is_active": "on",
        "staff": [str(cast.staff_a.pk)],
    }
    assert client.post("/admin/contacts/channelcode/add/", form).status_code == 302
    channel = ChannelCode.objects.get(state="poster-1")
    assert channel.config_id in _ways(corp)

    form["staff"] = [str(cast.staff_a.pk), str(cast.staff_b.pk)]  # a new type: replaced
    client.post(f"/admin/contacts/channelcode/{channel.pk}/change/", form)
    del form["is_active"]  # withdrawn
    client.post(f"/admin/contacts/channelcode/{channel.pk}/change/", form)
    form["is_active"] = "on"
    client.post(f"/admin/contacts/channelcode/{channel.pk}/change/", form)
    channel_code_push(channel_id=channel.pk)  # unchanged: get and update
    client.post(f"/admin/contacts/channelcode/{channel.pk}/delete/", {"post": "yes"})

    assert not ChannelCode.objects.filter(pk=channel.pk).exists()
    assert corp.state()["contact_ways"] == []
    assert set(no_transaction_during_calls) == set(WAY_CALLS)


def test_an_edit_made_during_a_slow_push_is_neither_blocked_nor_lost(corp, cast):
    channel = ChannelCodeFactory(name="初版", state="slow-push", skip_verify=True)
    channel.staff.set([cast.staff_a])
    config_id = channel_code_push(channel_id=channel.pk).config_id

    ChannelCode.objects.filter(pk=channel.pk).update(name="第二版")
    corp.fault("externalcontact/update_contact_way", latency_ms=1500)
    slow = _Push(channel.pk)
    slow.start()
    _wait(_fault_taken(corp, "externalcontact/update_contact_way"), "the slow update")

    # Meanwhile ops edit the channel and save: nothing waits for the slow call.
    started = time.monotonic()
    with transaction.atomic():
        edited = ChannelCode.objects.select_for_update().get(pk=channel.pk)
        edited.name, edited.skip_verify = "第三版", False
        edited.save()
    channel_code_push(channel_id=channel.pk)
    assert time.monotonic() - started < 1.0 and slow.is_alive()

    slow.join(timeout=15)
    assert slow.error is None
    channel.refresh_from_db()
    assert (channel.name, channel.skip_verify, channel.config_id) == ("第三版", False, config_id)
    # The slow call landed last with the second version; its push saw the newer edit
    # when recording and sent that again.
    way = _ways(corp)[config_id]
    assert (way["remark"], way["skip_verify"]) == ("第三版", False)
    assert len(_ways(corp)) == 1


def test_a_contact_way_made_by_a_push_that_lost_the_race_is_removed(corp, cast):
    channel = ChannelCodeFactory(name="动账通知", state="race-add")
    channel.staff.set([cast.staff_a])
    corp.fault("externalcontact/add_contact_way", latency_ms=1000)
    slow = _Push(channel.pk)
    slow.start()
    _wait(_fault_taken(corp, "externalcontact/add_contact_way"), "the slow add")

    fast = channel_code_push(channel_id=channel.pk)
    slow.join(timeout=15)
    assert slow.error is None
    channel.refresh_from_db()
    assert channel.config_id == fast.config_id
    assert list(_ways(corp)) == [fast.config_id]


def test_a_failed_push_leaves_the_channel_with_what_wecom_holds_and_retryable(corp, cast):
    channel = ChannelCodeFactory(name="外呼", state="type-change")
    channel.staff.set([cast.staff_a])
    old = channel_code_push(channel_id=channel.pk).config_id

    # Two staff need a new code: the old one is deleted, then WeCom refuses the new one.
    channel.staff.set([cast.staff_a, cast.staff_b])
    corp.fault("externalcontact/add_contact_way", errcode=41045)
    with pytest.raises(DomainError, match="联系我二维码数量已达上限"):
        channel_code_push(channel_id=channel.pk)
    channel.refresh_from_db()
    assert old not in _ways(corp)
    assert (channel.config_id, channel.qr_code) == ("", "")

    channel = channel_code_push(channel_id=channel.pk)
    assert _ways(corp)[channel.config_id]["type"] == 2


def test_deleting_a_channel_wecom_refuses_to_remove_keeps_it(corp, cast):
    channel = ChannelCodeFactory(state="keep-me")
    channel.staff.set([cast.staff_a])
    config_id = channel_code_push(channel_id=channel.pk).config_id
    corp.fault("externalcontact/del_contact_way", errcode=48002)
    with pytest.raises(DomainError):
        channel_code_delete(channel_id=channel.pk)
    assert ChannelCode.objects.get(pk=channel.pk).config_id == config_id

    channel_code_delete(channel_id=channel.pk)
    assert not ChannelCode.objects.filter(pk=channel.pk).exists()
    assert _ways(corp) == {}
