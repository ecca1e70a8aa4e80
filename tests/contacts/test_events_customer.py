"""Customer events from WeCom: added (channel, welcome), edited, removed either way, staff left."""

from __future__ import annotations

import pytest

from contacts.models import Customer, FollowRelation, Staff, TimelineEntry
from tests.factories import ChannelCodeFactory
from tests.wecom.events import deliver, scan_and_process

pytestmark = pytest.mark.django_db


@pytest.fixture
def corp(wecom_sandbox):
    wecom_sandbox.seed_staff("lina", "chenjing")
    return wecom_sandbox


def test_a_scan_creates_the_customer_follow_relation_and_first_channel(corp):
    channel = ChannelCodeFactory(
        state="txn-alert", name="动账通知", welcome_text="您好，欢迎关注！"
    )
    result, event = scan_and_process(corp, userid="lina", state="txn-alert", name="王小明")
    assert event.status == "done"
    customer = Customer.objects.get(external_userid=result["external_userid"])
    assert (
        customer.name == "王小明"
        and customer.first_channel == channel
        and customer.first_state == "txn-alert"
    )
    relation = FollowRelation.objects.get(customer=customer)
    assert (
        relation.staff.userid == "lina"
        and relation.state == "txn-alert"
        and relation.status == "active"
    )
    assert set(TimelineEntry.objects.filter(customer=customer).values_list("kind", flat=True)) == {
        "customer_added",
        "welcome_sent",
    }
    sent = corp.state()["welcome_sent"]
    assert [(w["external_userid"], w["text"]) for w in sent] == [
        (customer.external_userid, "您好，欢迎关注！")
    ]


def test_the_first_channel_is_kept_when_the_customer_comes_again_through_another(corp):
    first = ChannelCodeFactory(state="oa-menu")
    ChannelCodeFactory(state="moments")
    result, _ = scan_and_process(corp, userid="lina", state="oa-menu")
    scan_and_process(
        corp, userid="chenjing", state="moments", external_userid=result["external_userid"]
    )
    customer = Customer.objects.get(external_userid=result["external_userid"])
    assert customer.first_channel == first
    assert customer.follows.count() == 2
    assert TimelineEntry.objects.filter(customer=customer, kind="customer_added").count() == 2


def test_an_expired_welcome_code_leaves_a_timeline_note_for_the_manager(corp):
    ChannelCodeFactory(state="ch-late", welcome_text="欢迎")
    corp.control("config", welcome_code_ttl_s=0)
    result, event = scan_and_process(corp, userid="lina", state="ch-late")
    assert event.status == "done"
    note = TimelineEntry.objects.get(kind="welcome_failed")
    assert note.data["errcode"] == 41050
    assert corp.state()["welcome_sent"] == []


def test_processing_the_same_add_twice_changes_nothing(corp):
    from scrm.wecom.inbox import inbox_event_process
    from scrm.wecom.models import InboxEvent

    ChannelCodeFactory(state="ch2", welcome_text="欢迎")
    result, event = scan_and_process(corp, userid="lina", state="ch2")
    InboxEvent.objects.filter(id=event.id).update(status="pending")  # a redelivered task
    inbox_event_process(event_id=event.id)
    assert Customer.objects.count() == 1 and FollowRelation.objects.count() == 1
    assert TimelineEntry.objects.count() == 2
    assert len(corp.state()["welcome_sent"]) == 1


def test_removals_end_the_relation_and_the_last_one_marks_the_customer_lost(corp):
    result, _ = scan_and_process(corp, userid="lina")
    ext = result["external_userid"]
    corp.control("customer_deletes_staff", userid="lina", external_userid=ext)
    deliver(
        {
            "Event": "change_external_contact",
            "ChangeType": "del_follow_user",
            "UserID": "lina",
            "ExternalUserID": ext,
        }
    )
    relation = FollowRelation.objects.get()
    assert relation.status == "removed_by_customer" and relation.removed_at is not None
    assert Customer.objects.get().status == "lost"


def test_a_transfer_deletion_is_recorded_as_a_transfer(corp):
    result, _ = scan_and_process(corp, userid="lina")
    deliver(
        {
            "Event": "change_external_contact",
            "ChangeType": "del_external_contact",
            "UserID": "lina",
            "ExternalUserID": result["external_userid"],
            "Source": "DELETE_BY_TRANSFER",
        }
    )
    assert FollowRelation.objects.get().status == "transferred"


def test_an_unknown_staff_member_is_created_with_the_name_from_wecom(corp):
    corp.control("staff", users=[{"userid": "zhangwei", "name": "张伟"}])
    scan_and_process(corp, userid="zhangwei")
    assert Staff.objects.get(userid="zhangwei").name == "张伟"


def test_staff_leaving_the_corp_is_marked_left(corp):
    Staff.objects.create(userid="chenjing", name="陈静")
    deliver({"Event": "change_contact", "ChangeType": "delete_user", "UserID": "chenjing"})
    assert Staff.objects.get(userid="chenjing").status == "left"


def test_a_customer_gone_from_wecom_is_skipped_not_retried(corp):
    event = deliver(
        {
            "Event": "change_external_contact",
            "ChangeType": "add_external_contact",
            "UserID": "lina",
            "ExternalUserID": "wmGONE",
        }
    )
    assert event.status == "done" and Customer.objects.count() == 0
