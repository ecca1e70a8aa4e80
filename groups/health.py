"""Group health (D6: groups without a plan die within weeks).

Every day, per group: members, joins, leaves, net, and activity from WeCom's
group statistics. WeCom reports activity per owner, not per group, so a
group's day is marked active/inactive only when the owner's figures pin it
down (none of the owner's groups spoke, all of them did, or the owner has one
group); otherwise it stays unknown and is never guessed.

Dormant: no activity on each of the last ``dormant_days`` days. Dying: the net
loss over the last week is above ``dying_loss_pct`` of the members a week ago.
The owner of a dormant or dying group gets one rescue task per group per week.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm.wecom.adapter import wecom
from scrm.workspace.models import ManagerTask
from scrm.workspace.services import task_ensure

from .models import CustomerGroup, GroupDayStat, GroupMemberChange

DYING_WINDOW_DAYS = 7
DEFAULT_DORMANT_DAYS = 7
DEFAULT_DYING_LOSS_PCT = 10
Health = CustomerGroup.Health


@dataclass(frozen=True)
class DayFigures:
    day: dt.date
    member_count: int
    net: int
    active: bool | None


def group_health_classify(
    *, days: Sequence[DayFigures], dormant_days: int, dying_loss_pct: int
) -> str:
    """Health from the group's recent days (oldest first, the last one = yesterday)."""
    if not days:
        return Health.UNKNOWN
    window = days[-DYING_WINDOW_DAYS:]
    start = window[0].member_count - window[0].net  # members before the window
    now = window[-1].member_count
    if start > 0 and (start - now) * 100 > dying_loss_pct * start:
        return Health.DYING
    recent = days[-dormant_days:] if dormant_days > 0 else []
    if len(recent) == dormant_days and recent and all(d.active is False for d in recent):
        return Health.DORMANT
    return Health.HEALTHY


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def _owner_activity(day: dt.date, owners: list[str]) -> dict[str, dict]:
    start, _end = _day_bounds(day)
    if not owners:
        return {}
    return {
        item["owner"]: item.get("data") or {}
        for item in wecom.group_statistic(day_begin=int(start.timestamp()), owners=owners)
    }


def group_day_stats_compute(*, day: dt.date) -> int:
    """Write each live group's figures for ``day`` (a past day); idempotent."""
    start, end = _day_bounds(day)
    groups = list(
        CustomerGroup.objects.filter(status=CustomerGroup.Status.NORMAL).values(
            "id", "owner_userid", "member_count"
        )
    )
    if not groups:
        return 0
    per_day = dict.fromkeys([g["id"] for g in groups], (0, 0))
    after = dict.fromkeys(per_day, 0)
    rows = (
        GroupMemberChange.objects.filter(group_id__in=per_day, at__gte=start)
        .values("group_id")
        .annotate(
            joins=Count("id", filter=Q(kind="join", at__lt=end)),
            leaves=Count("id", filter=Q(kind="leave", at__lt=end)),
            joins_after=Count("id", filter=Q(kind="join", at__gte=end)),
            leaves_after=Count("id", filter=Q(kind="leave", at__gte=end)),
        )
    )
    for r in rows:
        per_day[r["group_id"]] = (r["joins"], r["leaves"])
        after[r["group_id"]] = r["joins_after"] - r["leaves_after"]
    by_owner: dict[str, int] = defaultdict(int)
    for g in groups:
        by_owner[g["owner_userid"]] += 1
    activity = _owner_activity(day, sorted(o for o in by_owner if o))
    stats = []
    for g in groups:
        joins, leaves = per_day[g["id"]]
        active, msgs = _group_activity(activity.get(g["owner_userid"]), by_owner[g["owner_userid"]])
        stats.append(
            GroupDayStat(
                group_id=g["id"],
                day=day,
                member_count=max(0, g["member_count"] - after[g["id"]]),
                joins=joins,
                leaves=leaves,
                net=joins - leaves,
                active=active,
                msg_total=msgs,
            )
        )
    GroupDayStat.objects.bulk_create(
        stats,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["group", "day"],
        update_fields=["member_count", "joins", "leaves", "net", "active", "msg_total"],
    )
    return len(stats)


def _group_activity(data: dict | None, our_groups: int) -> tuple[bool | None, int | None]:
    if not data:
        return None, None
    chats, spoke = int(data.get("chat_total") or 0), int(data.get("chat_has_msg") or 0)
    if spoke == 0:
        return False, 0
    if chats == 1 and our_groups == 1:
        return True, int(data.get("msg_total") or 0)
    if spoke >= chats:
        return True, None
    return None, None


def groups_health_update(*, day: dt.date) -> dict[str, int]:
    """Classify every live group from its days up to ``day``; rescue tasks for the
    owners of dormant and dying groups (one per group per ISO week)."""
    counts: dict[str, int] = defaultdict(int)
    look_back = day - dt.timedelta(days=60)
    groups = CustomerGroup.objects.filter(status=CustomerGroup.Status.NORMAL).select_related(
        "pool", "owner"
    )
    for group in groups.iterator(chunk_size=500):
        stats = list(
            GroupDayStat.objects.filter(group=group, day__gt=look_back, day__lte=day).order_by(
                "day"
            )
        )
        figures = [DayFigures(s.day, s.member_count, s.net, s.active) for s in stats]
        pool = group.pool
        health = group_health_classify(
            days=figures,
            dormant_days=pool.dormant_days if pool else DEFAULT_DORMANT_DAYS,
            dying_loss_pct=pool.dying_loss_pct if pool else DEFAULT_DYING_LOSS_PCT,
        )
        last_active = max((s.day for s in stats if s.active), default=group.last_active_on)
        with transaction.atomic():
            CustomerGroup.objects.filter(pk=group.pk).update(
                health=health, health_checked_on=day, last_active_on=last_active
            )
            counts[health] += 1
            if health in (Health.DORMANT, Health.DYING) and group.owner is not None:
                year, week, _wd = day.isocalendar()
                reason = _("群活跃度低") if health == Health.DORMANT else _("群成员流失较多")
                _task, created = task_ensure(
                    staff=group.owner,
                    kind=ManagerTask.Kind.GROUP_RESCUE,
                    title=_("激活客户群：%(group)s") % {"group": group},
                    detail=_("%(reason)s，请本周安排互动（小游戏、福利预告等）。")
                    % {"reason": reason},
                    dedupe_key=f"group-rescue:{group.pk}:{year}-W{week:02d}",
                    due_date=day + dt.timedelta(days=1),
                    group=group,
                )
                counts["tasks_created"] += int(created)
    return dict(counts)
