"""D3 end to end: 450 customers join a 200-capacity pool through its WeCom join way.

Sandbox → live webhook → inbox → real Celery worker. Groups fill in order,
WeCom opens "深圳福利群2" and "深圳福利群3", the system registers them into the
pool and keeps the join way on the group with room — and after duplicated and
out-of-order callbacks the registry matches WeCom exactly.
"""

from __future__ import annotations

import time

import pytest

from groups.models import CustomerGroup, GroupMember, GroupMemberChange
from groups.pools import pool_join_way_create
from groups.sync import group_sync
from scrm.wecom.models import InboxEvent
from tests.conftest import WorkerProcess, child_env
from tests.factories import GroupPoolFactory, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("wecom-e2e")]

FAST = {
    "WECOM_RETRY_BASE_S": "0.05",
    "WECOM_RETRY_MAX_S": "0.5",
    "WECOM_INBOX_RETRY_BASE_S": "0.5",
}


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def pool_in_wecom(wecom_sandbox, live_server, transactional_db):
    wecom_sandbox.sandbox.config.callback_url = f"{live_server.url}/wecom/callback/"
    wecom_sandbox.sandbox.config.callback_retry_interval_s = 0.05
    wecom_sandbox.seed_staff("lina")
    owner = StaffFactory(userid="lina", name="李娜")
    first = wecom_sandbox.control("group_create", owner="lina", name="深圳福利群1", callback=False)
    group, _ = group_sync(chat_id=first["chat_id"])
    pool = GroupPoolFactory(
        name="深圳福利群", room_base_name="深圳福利群", room_base_id=2, capacity=200, owner=owner
    )
    CustomerGroup.objects.filter(pk=group.pk).update(pool=pool, region=pool.region)
    return pool_join_way_create(pool_id=pool.pk)


@pytest.fixture
def worker(pool_in_wecom):
    from scrm.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    proc = WorkerProcess(child_env(**FAST), concurrency=3).start()
    yield proc
    proc.stop()


def _registry_matches(sandbox_state: dict, pool) -> bool:
    if InboxEvent.objects.exclude(status__in=["done", "ignored"]).exists():
        return False
    chats = {c["chat_id"]: c for c in sandbox_state["chats"]}
    ours = {g.chat_id: g for g in CustomerGroup.objects.filter(pool=pool)}
    if set(ours) != set(chats):
        return False
    for chat_id, chat in chats.items():
        active = set(
            GroupMember.objects.filter(group__chat_id=chat_id, is_active=True).values_list(
                "userid", flat=True
            )
        )
        if active != {m["userid"] for m in chat["member_list"]}:
            return False
        if ours[chat_id].member_count != len(chat["member_list"]):
            return False
    pool.refresh_from_db()
    way = sandbox_state["join_ways"][0]
    return way["chat_id_list"] == pool.join_way_chat_ids


def test_450_customers_roll_over_into_auto_created_rooms_and_counts_match_wecom(
    wecom_sandbox, pool_in_wecom, worker
):
    """D3: fill in order, auto-create, register, roll the join way over; each join once."""
    pool = pool_in_wecom
    config_id = pool.join_way_config_id
    started = time.monotonic()
    for i in range(450):
        # Every 7th join is delivered twice, as WeCom does when an answer is lost.
        wecom_sandbox.control(
            "join_group",
            config_id=config_id,
            external_userid=f"wmE2E{i:04d}",
            name=f"客户{i}",
            deliveries=2 if i % 7 == 0 else 1,
        )
    # Out of order: the leave is sent while the join's callback is still on its way.
    for i in range(5):
        joined = wecom_sandbox.control(
            "join_group", config_id=config_id, external_userid=f"wmGONE{i}", wait=False
        )
        wecom_sandbox.control(
            "leave_group", chat_id=joined["chat_id"], external_userid=f"wmGONE{i}"
        )
    # A stale join arrives after the leave (an earlier CreateTime): it must not resurrect.
    wecom_sandbox.control(
        "callback",
        fields={
            "Event": "change_external_chat",
            "ChangeType": "update",
            "ChatId": joined["chat_id"],
            "UpdateDetail": "add_member",
            "JoinScene": "3",
            "MemChangeCnt": "1",
            "CreateTime": str(int(time.time()) - 30),
        },
    )

    wait_for(
        lambda: _registry_matches(wecom_sandbox.state(), pool),
        timeout=60,
        what="the registry to match WeCom",
    )
    state = wecom_sandbox.state()
    groups = list(CustomerGroup.objects.filter(pool=pool).order_by("wecom_created_at", "id"))
    assert [g.name for g in groups] == ["深圳福利群1", "深圳福利群2", "深圳福利群3"]
    assert [g.customer_count for g in groups][:2] == [200, 200]
    assert sum(g.customer_count for g in groups) == 450
    assert all(g.region_id == pool.region_id for g in groups)
    # The join way holds only the group with room.
    assert state["join_ways"][0]["chat_id_list"] == [groups[2].chat_id]
    # Exactly once despite duplicates and reordering: one join per customer who stayed;
    # a join-and-leave is either seen whole (one join, one leave) or, when both
    # happened between two reads of the group, not at all — never half.
    changes = GroupMemberChange.objects.filter(member_type=2)
    stayed = changes.filter(userid__startswith="wmE2E")
    assert stayed.filter(kind="join").count() == 450 and not stayed.filter(kind="leave").exists()
    for i in range(5):
        gone = changes.filter(userid=f"wmGONE{i}")
        assert gone.filter(kind="join").count() == gone.filter(kind="leave").count() <= 1
    assert not GroupMember.objects.filter(userid__startswith="wmGONE", is_active=True).exists()
    assert time.monotonic() - started < 60
