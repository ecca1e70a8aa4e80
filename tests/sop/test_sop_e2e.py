"""End to end with a real Celery worker and the WeCom sandbox over HTTP (D6):
a plan for 50 groups with a slot due now produces exactly 50 group sends, once,
even when the tick runs twice and the worker is killed in the middle."""

from __future__ import annotations

import time as clock
from collections import Counter
from datetime import date, time, timedelta

import pytest
from django.utils import timezone

from groups.sop import services
from groups.sop.models import SopDelivery, SopPlan, SopPush
from groups.sop.tasks import sop_push_sweep_task, sop_tick_task
from tests.conftest import WorkerProcess, child_env
from tests.factories import CustomerGroupFactory, GroupPoolFactory, StaffFactory

OWNERS = 5
GROUPS_PER_OWNER = 10


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline:
        if predicate():
            return
        clock.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.e2e
def test_fifty_groups_get_exactly_one_send_despite_a_double_tick_and_a_killed_worker(
    wecom_sandbox, transactional_db, cast, approved
):
    pool = GroupPoolFactory()
    for o in range(OWNERS):
        owner = StaffFactory(userid=f"owner{o}", name=f"群主{o}")
        wecom_sandbox.seed_staff(owner.userid)
        for g in range(GROUPS_PER_OWNER):
            with wecom_sandbox.sandbox.lock:
                chat = wecom_sandbox.sandbox.chat_create(owner=owner.userid, name=f"群{o}-{g}")
            CustomerGroupFactory(chat_id=chat["chat_id"], owner=owner, pool=pool)
    now = timezone.localtime()
    if now.second > 50:  # keep the slot's minute stable for the whole test
        clock.sleep(61 - now.second)
        now = timezone.localtime()
    plan = SopPlan.objects.create(
        name="每日福利", start_date=date(2026, 1, 1), active_since=now - timedelta(hours=1)
    )
    plan.target_pools.add(pool)
    services.sop_slot_create(plan=plan, content_id=approved.pk, at=time(now.hour, now.minute))
    # Each mass-message call takes a while, so the kill lands mid-slot.
    wecom_sandbox.fault("externalcontact/add_msg_template", latency_ms=700, times=-1)

    env = child_env(SOP_PUSH_UNCERTAIN_S="3", SOP_CLAIM_TIMEOUT_S="3")
    first = WorkerProcess(env, concurrency=2).start()
    try:
        sop_tick_task.delay()
        sop_tick_task.delay()  # a second beat, or a tick run twice
        _wait(
            lambda: SopPush.objects.filter(status=SopPush.Status.AWAITING_CONFIRM).exists(),
            60,
            "the first push",
        )
        first.kill()  # mid-slot: some pushes done, others claimed or not started
    finally:
        first.kill()
    assert SopPush.objects.exclude(status=SopPush.Status.AWAITING_CONFIRM).exists()

    second = WorkerProcess(env, concurrency=2).start()
    try:
        clock.sleep(3.5)  # the dead worker's claims go stale
        sop_tick_task.delay()
        beat = {"next": 0.0}

        def all_sent() -> bool:
            # As beat would: the sweep runs every few seconds until the slot is done
            # (on a loaded machine the new worker may start after the first sweep).
            if clock.monotonic() >= beat["next"]:
                sop_push_sweep_task.delay()
                beat["next"] = clock.monotonic() + 5
            return (
                SopDelivery.objects.filter(status=SopDelivery.Status.AWAITING_CONFIRM).count()
                == OWNERS * GROUPS_PER_OWNER
            )

        _wait(all_sent, 90, "all deliveries to reach WeCom")
    finally:
        second.stop()

    with wecom_sandbox.sandbox.lock:
        messages = [
            m for m in wecom_sandbox.sandbox.state.msgs.values() if m["chat_type"] == "group"
        ]
    per_group = Counter(chat for m in messages for chats in m["targets"].values() for chat in chats)
    assert len(per_group) == OWNERS * GROUPS_PER_OWNER
    assert set(per_group.values()) == {1}, "a group was sent the slot twice"
    assert len(messages) == OWNERS  # one mass message per owner
    assert SopDelivery.objects.count() == OWNERS * GROUPS_PER_OWNER
