"""Pools that roll over (D3) and the gate on their members (D4).

A pool is backed by one WeCom group join way, which holds at most 5 groups and
opens a new room (``room_base_name`` + number) when all of them are full. The
system keeps the join way pointed at the pool's groups that still have room,
registers auto-created rooms into their pool, and flags members of a
verified-only pool who are not verified bank customers.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Customer
from scrm.core.errors import DomainError
from scrm.wecom.adapter import wecom
from scrm.wecom.errors import WeComError
from scrm.workspace.services import task_ensure

from .models import CustomerGroup, GroupMember, GroupPool

logger = logging.getLogger(__name__)

JOIN_WAY_MAX_GROUPS = 5  # WeCom: errcode 41091 beyond this
GROUP_MAX_MEMBERS = 500  # WeCom's hard limit; capacity (by QR) is the pool's
# ManagerTask kinds of the groups app (shown on the manager's task list).
TASK_KIND_MEMBER_CHECK = "group_member_check"
TASK_KIND_NOTICE = "group_notice"


@dataclass(frozen=True)
class GroupFill:
    chat_id: str
    member_count: int
    live: bool = True


def rollover_plan(
    *, groups: Sequence[GroupFill], capacity: int, current: Sequence[str]
) -> list[str]:
    """The chat ids the join way should hold, in the order WeCom fills them (D3).

    ``groups`` are the pool's groups oldest first. The first five with room win;
    when none has room the current list stays (minus dismissed groups), so that
    WeCom's auto-create opens the next room. An empty answer means: leave it.
    A group in ``current`` that is not in ``groups`` is a room WeCom just opened
    whose callback has not been processed yet: it has room, and stays.
    """
    known = {g.chat_id for g in groups}
    room = [
        g.chat_id for g in groups if g.live and g.member_count < min(capacity, GROUP_MAX_MEMBERS)
    ] + [c for c in current if c not in known]
    if room:
        return room[:JOIN_WAY_MAX_GROUPS]
    live = {g.chat_id for g in groups if g.live}
    kept = [c for c in current if c in live]
    if kept:
        return kept[-JOIN_WAY_MAX_GROUPS:]
    last_live = [g.chat_id for g in groups if g.live]
    return last_live[-1:]


def _pool_fills(pool: GroupPool) -> list[GroupFill]:
    rows = (
        CustomerGroup.objects.filter(pool=pool)
        .order_by("wecom_created_at", "id")
        .values_list("chat_id", "member_count", "status")
    )
    return [
        GroupFill(chat_id=c, member_count=n, live=s == CustomerGroup.Status.NORMAL)
        for c, n, s in rows
    ]


def _state_for(pool: GroupPool) -> str:
    return pool.join_way_state or f"pool-{pool.pk}"


def pool_join_way_create(*, pool_id: int) -> GroupPool:
    """Create the pool's WeCom join way (scene 2 = QR, auto-create on) and store its QR.

    The pool needs at least one group: WeCom requires a non-empty ``chat_id_list``.
    No lock is held while WeCom answers: if another call created the pool's join way
    meanwhile, that one stays and ours is deleted in WeCom.
    """
    pool = GroupPool.objects.get(pk=pool_id)
    if pool.join_way_config_id:
        return pool
    plan = rollover_plan(groups=_pool_fills(pool), capacity=pool.capacity, current=[])
    if not plan:
        raise DomainError("pool_no_group", _("请先为群池选择至少一个客户群"))
    state = _state_for(pool)
    config_id = ""
    try:
        config_id = wecom.join_way_add(
            scene=2,
            remark=pool.name[:30],
            auto_create_room=1,
            room_base_name=(pool.room_base_name or pool.name)[:40],
            room_base_id=pool.room_base_id,
            chat_id_list=plan,
            state=state,
        )
        way = wecom.join_way_get(config_id)
    except WeComError as exc:
        if config_id:
            _join_way_discard(config_id)  # made, but its QR code could not be read
        raise DomainError(
            "wecom_failed", _("企业微信创建进群方式失败：%(e)s") % {"e": exc.errmsg}
        ) from exc
    with transaction.atomic():
        pool = GroupPool.objects.select_for_update().get(pk=pool_id)
        if pool.join_way_config_id:
            unused = config_id
        else:
            unused = ""
            pool.join_way_config_id = config_id
            pool.join_way_state = state
            pool.qr_code = way.get("qr_code") or ""
            pool.join_way_chat_ids = list(way.get("chat_id_list") or plan)
            pool.rolled_over_at = timezone.now()
            # save() so the routing index (which shows the QR) is refreshed.
            pool.save(
                update_fields=[
                    "join_way_config_id",
                    "join_way_state",
                    "qr_code",
                    "join_way_chat_ids",
                    "rolled_over_at",
                    "updated_at",
                ]
            )
    if unused:
        _join_way_discard(unused)
    return pool


def _join_way_discard(config_id: str) -> None:
    try:
        wecom.join_way_delete(config_id)
    except WeComError:
        logger.warning("unused join way left in WeCom", extra={"config_id": config_id})


ROTATE_ROUNDS = 3


def pool_rotate_join_way(*, pool_id: int, refresh: bool = False) -> bool:
    """Point the join way at the groups with room; True when WeCom was updated.

    WeCom is written only when the plan differs from what the join way holds
    (``refresh`` first re-reads the join way: WeCom changes it itself when it opens
    a room). No lock is held while WeCom answers; ``rolled_over_at`` tells whether
    another rotation recorded meanwhile, and then this one looks again at what
    WeCom holds, so the join way and our copy of it end up the same.
    """
    changed = False
    for _round in range(ROTATE_ROUNDS):
        pool = GroupPool.objects.filter(pk=pool_id).first()
        if pool is None or not pool.join_way_config_id or not pool.is_active:
            return changed
        seen = pool.rolled_over_at
        fills = _pool_fills(pool)
        current = _join_way_read(pool) if refresh else list(pool.join_way_chat_ids or [])
        plan = rollover_plan(groups=fills, capacity=pool.capacity, current=current)
        if plan and plan != current and not refresh:
            # Our copy may be stale (WeCom adds the rooms it opens): write over what it holds.
            current = _join_way_read(pool)
            plan = rollover_plan(groups=fills, capacity=pool.capacity, current=current)
        if not plan or plan == current:
            return changed
        wecom.join_way_update(pool.join_way_config_id, chat_id_list=plan)
        changed = True
        if GroupPool.objects.filter(pk=pool.pk, rolled_over_at=seen).update(
            join_way_chat_ids=plan, rolled_over_at=timezone.now()
        ):
            return True
        refresh = True  # another rotation wrote meanwhile: whichever call landed last wins
    return changed


def _join_way_read(pool: GroupPool) -> list[str]:
    """The join way's groups as WeCom holds them now (our copy is updated)."""
    way = wecom.join_way_get(pool.join_way_config_id)
    current = list(way.get("chat_id_list") or [])
    GroupPool.objects.filter(pk=pool.pk).update(
        join_way_chat_ids=current, room_base_id=int(way.get("room_base_id") or 1)
    )
    return current


# --------------------------------------------------------------------------- saving a pool


@dataclass(frozen=True)
class PoolSaved:
    pool: GroupPool
    groups_added: int
    notice_tasks: int  # "update the group notice" tasks given to owners
    welcome: str  # a new welcome text for WeCom (``pool_wecom_push``), or ""


def pool_validate(*, pool: GroupPool, groups: Sequence[CustomerGroup]) -> None:
    """Check a pool's first groups before anything is saved.

    Raises ``DomainError``; ``data["field"]`` names the form field it is about.
    """
    if len(groups) > JOIN_WAY_MAX_GROUPS:
        raise DomainError(
            "pool_too_many_groups",
            _("一个群活码最多%(n)d个群") % {"n": JOIN_WAY_MAX_GROUPS},
            data={"field": "initial_groups"},
        )
    taken = [
        g.name or g.chat_id
        for g in groups
        if g.status != CustomerGroup.Status.NORMAL or g.pool_id not in (None, pool.pk)
    ]
    if taken:
        raise DomainError(
            "pool_group_taken",
            _("客户群已解散或已属于其他群池：%(names)s") % {"names": "、".join(taken)},
            data={"field": "initial_groups"},
        )


@transaction.atomic
def pool_save(
    *,
    pool: GroupPool,
    groups: Sequence[CustomerGroup] = (),
    changed_fields: Collection[str] = (),
    welcome: str = "",
    notice: str = "",
) -> PoolSaved:
    """Save a pool as ops edited it: its settings, its first groups (they take the
    pool's region, as do its groups when the region changes) and its notice (each
    owner gets a task).

    What WeCom must hear of (the join way, the welcome text) is left to
    ``pool_wecom_push``, to be called once this has committed.
    """
    from .welcome import pool_notice_update

    pool_validate(pool=pool, groups=groups)
    pool.save()
    added = CustomerGroup.objects.filter(
        pk__in=[g.pk for g in groups], pool=None, status=CustomerGroup.Status.NORMAL
    ).update(pool=pool, region=pool.region)
    if "region" in changed_fields:
        CustomerGroup.objects.filter(pool=pool).exclude(region=pool.region).update(
            region=pool.region
        )
    notice, welcome = notice.strip(), welcome.strip()
    tasks = pool_notice_update(pool_id=pool.pk, text=notice) if notice else 0
    return PoolSaved(
        pool=pool,
        groups_added=added,
        notice_tasks=tasks,
        welcome=welcome if welcome != pool.welcome_text else "",
    )


def pool_wecom_push(*, pool_id: int, welcome: str = "") -> GroupPool:
    """Bring WeCom in line with a saved pool: a pool with groups but no join way gets
    one, a pool with one has it pointed at its groups with room, and a new welcome
    text goes to the pool's welcome template. Raises ``DomainError`` when WeCom refuses.
    """
    from .welcome import pool_welcome_update

    pool = GroupPool.objects.get(pk=pool_id)
    if not pool.join_way_config_id:
        if CustomerGroup.objects.filter(pool=pool, status=CustomerGroup.Status.NORMAL).exists():
            pool_join_way_create(pool_id=pool_id)
    else:
        try:
            pool_rotate_join_way(pool_id=pool_id)
        except WeComError as exc:
            raise DomainError(
                "wecom_failed", _("企业微信更新群活码失败：%(e)s") % {"e": exc.errmsg}
            ) from exc
    if welcome:
        pool_welcome_update(pool_id=pool_id, text=welcome)
    return GroupPool.objects.get(pk=pool_id)


# --------------------------------------------------------------------------- new rooms


def pool_for_new_group(*, group: CustomerGroup, state: str = "") -> GroupPool | None:
    """The pool a room WeCom opened belongs to: by the join way's ``state``, else by
    ``room_base_name`` (the room is named base name + number) and owner."""
    pools = GroupPool.objects.filter(is_active=True).exclude(join_way_config_id="")
    if state:
        pool = pools.filter(join_way_state=state).first()
        if pool is not None:
            return pool
    if not group.name:
        return None
    for pool in pools.exclude(room_base_name="").order_by("-room_base_name"):
        suffix = group.name[len(pool.room_base_name) :].strip()
        same_owner = pool.owner_id is None or pool.owner_id == group.owner_id
        if group.name.startswith(pool.room_base_name) and suffix.isdigit() and same_owner:
            return pool
    return None


@transaction.atomic
def group_register_in_pool(*, group_id: int, pool_id: int) -> bool:
    """Put an unpooled group into a pool (an auto-created room); idempotent."""
    pool = GroupPool.objects.get(pk=pool_id)
    return bool(
        CustomerGroup.objects.filter(pk=group_id, pool__isnull=True).update(
            pool=pool, region=pool.region
        )
    )


@transaction.atomic
def group_place(*, group_id: int, pool_id: int | None, region_id: int | None) -> CustomerGroup:
    """Ops put a group into a pool (its region follows the pool's) or take it out, or
    set the region of a group outside any pool. The group's own fields stay as WeCom
    has them."""
    group = CustomerGroup.objects.select_for_update().get(pk=group_id)
    pool = GroupPool.objects.filter(pk=pool_id).first() if pool_id else None
    if pool_id and pool is None:
        raise DomainError("pool_not_found", _("群池不存在"))
    group.pool = pool
    group.region_id = pool.region_id if pool is not None else region_id
    group.save(update_fields=["pool", "region", "updated_at"])
    return group


def members_flag_unverified(*, group: CustomerGroup, userids: Sequence[str]) -> int:
    """D4: in a verified-only pool's group, flag customers who are not verified
    (or unknown to the bank) and put a check on the owner's task list."""
    pool = group.pool
    if pool is None or not pool.verified_only or not userids:
        return 0
    verified = set(
        Customer.objects.filter(external_userid__in=userids, verified_at__isnull=False).values_list(
            "external_userid", flat=True
        )
    )
    suspects = [u for u in userids if u not in verified]
    if not suspects:
        return 0
    flagged = list(
        GroupMember.objects.filter(
            group=group,
            userid__in=suspects,
            member_type=GroupMember.MemberType.CUSTOMER,
            is_active=True,
        ).select_related("customer")
    )
    GroupMember.objects.filter(pk__in=[m.pk for m in flagged]).update(flagged_unverified=True)
    if group.owner is not None:
        today = timezone.localdate()
        for member in flagged:
            who = member.name or member.userid
            task_ensure(
                staff=group.owner,
                kind=TASK_KIND_MEMBER_CHECK,
                title=_("核实群成员：%(who)s（%(group)s）") % {"who": who, "group": group},
                detail=_("该群仅限本行认证客户，此成员尚未认证。请核实身份，必要时移出群聊。"),
                dedupe_key=f"group-member-check:{group.pk}:{member.userid}",
                due_date=today,
                customer=member.customer,
                group=group,
                priority=1,
            )
    return len(flagged)


def group_follow_up(*, group: CustomerGroup, result, state: str = "") -> None:
    """After a group was re-read from WeCom: pool registration, rollover, gate, notice.

    Safe to repeat: registration and flags are guarded updates, tasks are deduped,
    and the join way is written only when its groups must change.
    """
    from .welcome import group_notice_follow_up, pool_welcome_new_group

    registered = False
    if group.pool_id is None and (state or result.created):
        pool = pool_for_new_group(group=group, state=state)
        if pool is not None and group_register_in_pool(group_id=group.pk, pool_id=pool.pk):
            registered = True
            group.refresh_from_db()
    if group.pool_id is None:
        return
    group = CustomerGroup.objects.select_related("pool", "owner").get(pk=group.pk)
    if registered:
        pool_welcome_new_group(group=group)
    if registered or result.members_added or result.members_removed:
        pool_rotate_join_way(pool_id=group.pool_id, refresh=registered)
    if result.joined_customers:
        members_flag_unverified(group=group, userids=result.joined_customers)
    if registered or not result.members_skipped:
        group_notice_follow_up(group=group)
