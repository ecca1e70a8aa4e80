"""Rollover decisions (D3), the gate on members (D4), welcome and notice (D5), health (D6)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from groups.health import (
    DayFigures,
    group_day_stats_compute,
    group_health_classify,
    groups_health_update,
)
from groups.models import CustomerGroup, GroupMember
from groups.pools import (
    TASK_KIND_MEMBER_CHECK,
    TASK_KIND_NOTICE,
    GroupFill,
    members_flag_unverified,
    rollover_plan,
)
from groups.sync import group_sync
from groups.welcome import group_notice_follow_up, pool_notice_update, pool_welcome_update
from scrm.workspace.models import ManagerTask
from tests.factories import (
    CustomerFactory,
    CustomerGroupFactory,
    GroupMemberFactory,
    GroupPoolFactory,
    StaffFactory,
)

# --------------------------------------------------------------------------- rollover (D3)


def test_the_join_way_points_at_the_first_five_groups_with_room_in_fill_order():
    groups = [GroupFill(f"g{i}", n) for i, n in enumerate([200, 150, 0, 10, 199, 5, 3])]
    assert rollover_plan(groups=groups, capacity=200, current=["g0"]) == [
        "g1",
        "g2",
        "g3",
        "g4",
        "g5",
    ]


def test_when_every_group_is_full_the_join_way_stays_so_wecom_opens_the_next_room():
    groups = [GroupFill("g0", 201), GroupFill("g1", 200), GroupFill("g2", 10, live=False)]
    assert rollover_plan(groups=groups, capacity=200, current=["g1", "g2"]) == ["g1"]


def test_a_room_wecom_just_opened_stays_though_its_callback_is_not_processed_yet():
    # Our counts lag: g1 looks one short of full, and g2 (opened by WeCom) is unknown here.
    groups = [GroupFill("g0", 200), GroupFill("g1", 199)]
    assert rollover_plan(groups=groups, capacity=200, current=["g1", "g2"]) == ["g1", "g2"]


def test_a_group_at_wecoms_500_member_limit_is_full_whatever_the_pool_capacity():
    assert rollover_plan(groups=[GroupFill("g0", 500)], capacity=1000, current=[]) == ["g0"]
    assert rollover_plan(
        groups=[GroupFill("g0", 500), GroupFill("g1", 499)], capacity=1000, current=["g0"]
    ) == ["g1"]


# --------------------------------------------------------------------------- gate (D4)


def test_unverified_and_unknown_members_of_a_verified_only_pool_are_flagged_for_the_owner(db):
    owner = StaffFactory(userid="lina")
    group = CustomerGroupFactory(owner=owner, pool=GroupPoolFactory(verified_only=True))
    verified = CustomerFactory(verified_at=timezone.now())
    unverified = CustomerFactory()
    for customer in (verified, unverified):
        GroupMemberFactory(group=group, customer=customer)
    GroupMemberFactory(group=group, customer=None, userid="wmSTRANGER")
    userids = [verified.external_userid, unverified.external_userid, "wmSTRANGER"]

    assert members_flag_unverified(group=group, userids=userids) == 2
    members_flag_unverified(group=group, userids=userids)  # a repeated callback

    flagged = set(
        GroupMember.objects.filter(flagged_unverified=True).values_list("userid", flat=True)
    )
    assert flagged == {unverified.external_userid, "wmSTRANGER"}
    tasks = ManagerTask.objects.filter(kind=TASK_KIND_MEMBER_CHECK, staff=owner, group=group)
    assert tasks.count() == 2


def test_members_of_an_open_pool_are_not_flagged(db):
    group = CustomerGroupFactory(pool=GroupPoolFactory(verified_only=False))
    member = GroupMemberFactory(group=group)
    assert members_flag_unverified(group=group, userids=[member.userid]) == 0
    assert not ManagerTask.objects.exists()


# --------------------------------------------------------------------------- welcome (D5)


@pytest.mark.django_db(transaction=True)
def test_the_welcome_template_goes_to_wecom_with_no_transaction_open(
    wecom_sandbox, wecom_calls_outside_transactions
):
    seen = wecom_calls_outside_transactions(
        "group_welcome_template_add", "group_welcome_template_edit"
    )
    pool = GroupPoolFactory()
    pool_welcome_update(pool_id=pool.pk, text="本周福利：周三 12:00 美食五折")
    pool = pool_welcome_update(pool_id=pool.pk, text="本周福利：周五 20:00 抽奖")
    assert seen == ["group_welcome_template_add", "group_welcome_template_edit"]
    assert pool.welcome_template_id and pool.welcome_version == 2


def test_a_welcome_change_reaches_every_group_of_the_pool_through_one_wecom_template(
    wecom_sandbox, db
):
    pool = GroupPoolFactory()
    groups = CustomerGroupFactory.create_batch(3, pool=pool)
    other = CustomerGroupFactory()

    pool_welcome_update(pool_id=pool.pk, text="本周福利：周三 12:00 美食五折")
    pool = pool_welcome_update(pool_id=pool.pk, text="本周福利：周五 20:00 抽奖")

    templates = wecom_sandbox.state()["group_welcome_templates"]
    assert len(templates) == 1 and templates[0]["template_id"] == pool.welcome_template_id
    assert templates[0]["text"]["content"] == "本周福利：周五 20:00 抽奖"
    assert {g.welcome_version for g in CustomerGroup.objects.filter(pool=pool)} == {2}
    assert len(groups) == 3
    other.refresh_from_db()
    assert other.welcome_version == 0


def test_a_notice_change_gives_each_owner_a_task_done_once_wecom_shows_the_notice(
    wecom_sandbox, db
):
    """WeCom has no API for a customer group's notice: owners update it, we verify it."""
    wecom_sandbox.seed_staff("lina")
    owner = StaffFactory(userid="lina")
    chat = wecom_sandbox.control("group_create", owner="lina", name="福利群1", callback=False)
    group, _ = group_sync(chat_id=chat["chat_id"])
    pool = GroupPoolFactory(owner=owner)
    CustomerGroup.objects.filter(pk=group.pk).update(pool=pool)
    CustomerGroupFactory(pool=pool, owner=owner)

    assert (
        pool_notice_update(pool_id=pool.pk, text="群规：请勿发广告。卡片问题请私聊客户经理。") == 2
    )
    assert (
        pool_notice_update(pool_id=pool.pk, text="群规：请勿发广告。卡片问题请私聊客户经理。") == 0
    )
    assert ManagerTask.objects.filter(kind=TASK_KIND_NOTICE, staff=owner).count() == 2

    with wecom_sandbox.sandbox.lock:  # the owner sets it in the WeCom client
        wecom_sandbox.sandbox.state.chats[chat["chat_id"]]["notice"] = (
            "群规：请勿发广告。\n卡片问题请私聊客户经理。"
        )
        wecom_sandbox.sandbox.state.chats[chat["chat_id"]]["version"] += 1
    group, _ = group_sync(chat_id=chat["chat_id"])
    group = CustomerGroup.objects.select_related("pool", "owner").get(pk=group.pk)
    group_notice_follow_up(group=group)
    group.refresh_from_db()
    assert group.notice_version == 1


# --------------------------------------------------------------------------- health (D6)


def _days(members: list[int], active: list[bool | None]) -> list[DayFigures]:
    start = dt.date(2026, 3, 1)
    out, prev = [], members[0]
    for i, (m, a) in enumerate(zip(members, active, strict=True)):
        out.append(DayFigures(start + dt.timedelta(days=i), m, m - prev, a))
        prev = m
    return out


def test_a_group_silent_for_the_configured_days_is_dormant():
    silent = _days([100] * 7, [False] * 7)
    assert group_health_classify(days=silent, dormant_days=7, dying_loss_pct=10) == "dormant"
    assert group_health_classify(days=silent[1:], dormant_days=7, dying_loss_pct=10) == "healthy"


def test_unknown_activity_is_never_taken_for_silence():
    days = _days([100] * 7, [False] * 6 + [None])
    assert group_health_classify(days=days, dormant_days=7, dying_loss_pct=10) == "healthy"


def test_a_group_losing_more_than_the_threshold_in_a_week_is_dying():
    losing = _days([100, 98, 95, 93, 91, 90, 88], [True] * 7)
    assert group_health_classify(days=losing, dormant_days=7, dying_loss_pct=10) == "dying"
    assert group_health_classify(days=losing, dormant_days=7, dying_loss_pct=15) == "healthy"
    assert group_health_classify(days=[], dormant_days=7, dying_loss_pct=10) == "unknown"


def test_daily_health_uses_wecom_statistics_and_gives_one_rescue_task_per_group_per_week(
    wecom_sandbox, db
):
    wecom_sandbox.seed_staff("lina", "chenjing")
    lina, chen = StaffFactory(userid="lina"), StaffFactory(userid="chenjing")
    quiet = wecom_sandbox.control("group_create", owner="lina", name="安静群", callback=False)
    lively = wecom_sandbox.control("group_create", owner="chenjing", name="热闹群", callback=False)
    with wecom_sandbox.sandbox.lock:  # both groups were opened a week ago
        for chat in (quiet, lively):
            wecom_sandbox.sandbox.state.chats[chat["chat_id"]]["create_time"] -= 7 * 86400
    for chat in (quiet, lively):
        group_sync(chat_id=chat["chat_id"])
    GroupPoolFactory(dormant_days=2)
    today = timezone.localdate()
    for back in (2, 1):
        day = today - dt.timedelta(days=back)
        noon = timezone.make_aware(dt.datetime.combine(day, dt.time(12)))
        wecom_sandbox.control(
            "group_message", chat_id=lively["chat_id"], count=5, at=int(noon.timestamp())
        )
        group_day_stats_compute(day=day)

    yesterday = today - dt.timedelta(days=1)
    groups_health_update(day=yesterday)
    groups_health_update(day=yesterday)  # the daily task ran twice

    q = CustomerGroup.objects.get(chat_id=quiet["chat_id"])
    busy = CustomerGroup.objects.get(chat_id=lively["chat_id"])
    assert q.day_stats.get(day=yesterday).active is False
    assert busy.day_stats.get(day=yesterday).msg_total == 5
    assert busy.health == "healthy" and busy.last_active_on == yesterday
    # Outside a pool the default threshold (7 days) applies: not dormant after 2 days.
    assert q.health == "healthy"
    assert not ManagerTask.objects.filter(staff=chen).exists()
    assert lina.pk and not ManagerTask.objects.filter(kind="group_rescue").exists()

    CustomerGroup.objects.filter(pk=q.pk).update(pool=GroupPoolFactory(dormant_days=2))
    groups_health_update(day=yesterday)
    groups_health_update(day=yesterday)
    q.refresh_from_db()
    assert q.health == "dormant"
    rescue = ManagerTask.objects.filter(kind="group_rescue", group=q, staff=lina)
    assert rescue.count() == 1


def test_a_day_whose_health_run_failed_for_good_is_made_up_by_the_next_run(wecom_sandbox, db):
    """The daily task's final failure loses nothing: the next run computes the missed days."""
    from groups.models import GroupDayStat
    from groups.services import group_health_daily

    wecom_sandbox.seed_staff("lina")
    StaffFactory(userid="lina")
    chat = wecom_sandbox.control("group_create", owner="lina", name="福利群", callback=False)
    group, _ = group_sync(chat_id=chat["chat_id"])
    today = timezone.localdate()
    days = [today - dt.timedelta(days=back) for back in (4, 3, 2, 1)]

    # A first run computes only its own day (no history to make up).
    group_health_daily(day=days[0])
    assert list(GroupDayStat.objects.values_list("day", flat=True)) == [days[0]]
    # The runs for the next two days failed; the one after makes them up.
    group_health_daily(day=days[3])
    assert sorted(GroupDayStat.objects.filter(group=group).values_list("day", flat=True)) == days
