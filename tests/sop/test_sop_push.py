"""SOP deliveries go to WeCom as one mass message per owner, exactly once (D6).

Over the real-HTTP WeCom sandbox: WeCom sends a group mass message only after
the owner confirms it in the client, so each owner also gets a task.
"""

from datetime import date, time, timedelta

import pytest
from django.utils import timezone

from groups.sop import push as sop_push
from groups.sop import services
from groups.sop.models import SopDelivery, SopPlan, SopPush
from scrm.content import services as content_services
from scrm.wecom.adapter import wecom
from scrm.wecom.errors import WeComRetryableError
from scrm.workspace.models import ManagerTask
from tests.factories import CustomerGroupFactory, GroupPoolFactory, StaffFactory


def _sandbox_groups(sandbox, owner, n):
    """Groups that exist in WeCom (the sandbox) and in our registry."""
    groups = []
    for i in range(n):
        with sandbox.sandbox.lock:
            chat = sandbox.sandbox.chat_create(owner=owner.userid, name=f"{owner.name}福利群{i}")
        groups.append((chat["chat_id"], f"{owner.name}福利群{i}"))
    return groups


@pytest.fixture
def slot_due_now(cast, approved, wecom_sandbox):
    """A plan over one pool: 2 owners with 3 and 2 groups; a slot due this minute."""
    owners = [StaffFactory(userid="owner_a", name="甲"), StaffFactory(userid="owner_b", name="乙")]
    wecom_sandbox.seed_staff("owner_a", "owner_b")
    pool = GroupPoolFactory()
    for owner, n in zip(owners, (3, 2), strict=True):
        for chat_id, name in _sandbox_groups(wecom_sandbox, owner, n):
            CustomerGroupFactory(chat_id=chat_id, name=name, owner=owner, pool=pool)
    now = timezone.localtime()
    plan = SopPlan.objects.create(
        name="周历", start_date=date(2026, 1, 1), active_since=now - timedelta(hours=1)
    )
    plan.target_pools.add(pool)
    services.sop_slot_create(
        plan=plan, content_id=approved.pk, at=time(now.hour, now.minute), weekday=None
    )
    [occurrence_id] = services.sop_tick(now=now + timedelta(seconds=59 - now.second))
    services.sop_occurrence_expand(occurrence_id=occurrence_id)
    occurrence = plan.occurrences.get()
    return occurrence, owners


def _mass_messages(sandbox):
    with sandbox.sandbox.lock:
        return [m for m in sandbox.sandbox.state.msgs.values() if m["chat_type"] == "group"]


@pytest.mark.django_db
def test_one_mass_message_per_owner_lists_all_their_groups(slot_due_now, wecom_sandbox):
    occurrence, owners = slot_due_now
    push_ids = sop_push.sop_pushes_create(occurrence=occurrence)
    assert len(push_ids) == 2
    for push_id in push_ids:
        assert sop_push.sop_push_send(push_id=push_id)
    messages = _mass_messages(wecom_sandbox)
    assert sorted(len(m["targets"][m["creator"]]) for m in messages) == [2, 3]
    assert all("周三美食五折" in m["text"]["content"] for m in messages)
    assert SopDelivery.objects.filter(status=SopDelivery.Status.AWAITING_CONFIRM).count() == 5
    tasks = ManagerTask.objects.filter(kind=ManagerTask.Kind.GROUP_MESSAGE)
    assert {t.staff.userid for t in tasks} == {"owner_a", "owner_b"}


@pytest.mark.django_db
def test_sending_a_push_again_changes_nothing(slot_due_now, wecom_sandbox):
    occurrence, _ = slot_due_now
    push_ids = sop_push.sop_pushes_create(occurrence=occurrence)
    assert sop_push.sop_pushes_create(occurrence=occurrence) == push_ids
    for push_id in push_ids + push_ids:
        sop_push.sop_push_send(push_id=push_id)
    assert len(_mass_messages(wecom_sandbox)) == 2


@pytest.mark.django_db
def test_after_the_owner_confirms_results_mark_groups_sent_and_close_the_task(
    slot_due_now, wecom_sandbox
):
    occurrence, _ = slot_due_now
    for push_id in sop_push.sop_pushes_create(occurrence=occurrence):
        msgid = sop_push.sop_push_send(push_id=push_id)
        push = SopPush.objects.get(pk=push_id)
        wecom_sandbox.control("confirm_mass_message", msgid=msgid, userid=push.owner_userid)
        sop_push.sop_push_results_sync(push_id=push_id)
    assert SopDelivery.objects.filter(status=SopDelivery.Status.SENT).count() == 5
    assert set(SopPush.objects.values_list("status", flat=True)) == {SopPush.Status.DONE}
    assert not ManagerTask.objects.filter(status=ManagerTask.Status.OPEN).exists()


@pytest.mark.django_db
def test_a_worker_that_died_after_wecom_created_the_message_is_not_repeated(
    slot_due_now, wecom_sandbox
):
    occurrence, _ = slot_due_now
    [push_id, _other] = sop_push.sop_pushes_create(occurrence=occurrence)
    push = SopPush.objects.get(pk=push_id)
    long_ago = timezone.now() - sop_push.uncertain_after() - timedelta(seconds=5)
    # The dead worker: it claimed the push and WeCom created the message, then it died.
    SopPush.objects.filter(pk=push_id).update(status=SopPush.Status.CALLING, called_at=long_ago)
    created = wecom.msg_template_add(
        chat_type="group",
        sender=push.owner_userid,
        chat_id_list=push.chat_ids,
        **sop_push._payload(push),
    )
    assert sop_push.sop_push_send(push_id=push_id) is None  # adopted, not sent again
    push.refresh_from_db()
    assert push.msgid == created["msgid"]
    assert push.status == SopPush.Status.AWAITING_CONFIRM
    assert len(_mass_messages(wecom_sandbox)) == 1


@pytest.mark.django_db
def test_a_worker_that_died_before_reaching_wecom_is_retried_once(slot_due_now, wecom_sandbox):
    occurrence, _ = slot_due_now
    [push_id, _other] = sop_push.sop_pushes_create(occurrence=occurrence)
    long_ago = timezone.now() - sop_push.uncertain_after() - timedelta(seconds=5)
    SopPush.objects.filter(pk=push_id).update(status=SopPush.Status.CALLING, called_at=long_ago)
    assert push_id in sop_push.sop_pushes_stuck()
    assert sop_push.sop_push_send(push_id=push_id)
    assert len(_mass_messages(wecom_sandbox)) == 1


@pytest.mark.django_db
def test_wecom_busy_leaves_the_push_pending_for_a_retry(slot_due_now, wecom_sandbox):
    occurrence, _ = slot_due_now
    [push_id, _other] = sop_push.sop_pushes_create(occurrence=occurrence)
    wecom_sandbox.fault("externalcontact/add_msg_template", errcode=-1, times=10)
    with pytest.raises(WeComRetryableError):
        sop_push.sop_push_send(push_id=push_id)
    assert SopPush.objects.get(pk=push_id).status == SopPush.Status.PENDING
    wecom_sandbox.control("faults/clear")
    assert sop_push.sop_push_send(push_id=push_id)


@pytest.mark.django_db
def test_a_permanent_wecom_refusal_fails_the_deliveries_with_the_reason(
    slot_due_now, wecom_sandbox
):
    occurrence, _ = slot_due_now
    [push_id, _other] = sop_push.sop_pushes_create(occurrence=occurrence)
    wecom_sandbox.fault("externalcontact/add_msg_template", errcode=48002, times=1)
    assert sop_push.sop_push_send(push_id=push_id) is None
    failed = SopDelivery.objects.filter(push_id=push_id)
    assert set(failed.values_list("status", flat=True)) == {SopDelivery.Status.FAILED}
    assert "48002" in failed.first().reason


@pytest.mark.django_db
def test_content_naming_the_group_is_pushed_group_by_group(cast, wecom_sandbox):
    content = content_services.content_create(
        actor=cast.ops, title="群专属", text="{群名称} 的朋友们，周五有大活动！"
    )
    content_services.content_submit(actor=cast.ops, content_id=content.pk)
    content_services.content_approve(actor=cast.compliance, content_id=content.pk)
    owner = StaffFactory(userid="owner_c", name="丙")
    wecom_sandbox.seed_staff("owner_c")
    pool = GroupPoolFactory()
    for chat_id, name in _sandbox_groups(wecom_sandbox, owner, 2):
        CustomerGroupFactory(chat_id=chat_id, name=name, owner=owner, pool=pool)
    now = timezone.localtime()
    plan = SopPlan.objects.create(
        name="x", start_date=date(2026, 1, 1), active_since=now - timedelta(hours=1)
    )
    plan.target_pools.add(pool)
    services.sop_slot_create(plan=plan, content_id=content.pk, at=time(now.hour, now.minute))
    [occurrence_id] = services.sop_tick(now=now + timedelta(seconds=59 - now.second))
    services.sop_occurrence_expand(occurrence_id=occurrence_id)
    push_ids = sop_push.sop_pushes_create(occurrence=plan.occurrences.get())
    for push_id in push_ids:
        sop_push.sop_push_send(push_id=push_id)
    texts = sorted(m["text"]["content"] for m in _mass_messages(wecom_sandbox))
    assert texts == ["丙福利群0 的朋友们，周五有大活动！", "丙福利群1 的朋友们，周五有大活动！"]


@pytest.mark.django_db
def test_cancelling_a_slot_withdraws_mass_messages_owners_have_not_confirmed(
    slot_due_now, wecom_sandbox
):
    occurrence, _ = slot_due_now
    for push_id in sop_push.sop_pushes_create(occurrence=occurrence):
        sop_push.sop_push_send(push_id=push_id)
    stopped = services.sop_occurrence_cancel(occurrence_id=occurrence.pk, reason="内容有误")
    assert stopped == 5
    assert set(SopPush.objects.values_list("status", flat=True)) == {SopPush.Status.CANCELLED}
    assert all(m["cancelled"] for m in _mass_messages(wecom_sandbox))
    assert not ManagerTask.objects.filter(status=ManagerTask.Status.OPEN).exists()
