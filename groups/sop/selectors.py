"""Reads for SOP: which groups a plan reaches, quotas, and the week ahead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from groups.models import CustomerGroup

from . import calendar
from .models import SopDelivery, SopPlan, SopSlot

# Longer than any Chinese holiday: how far back the preview looks for slots a holiday
# shifted into the days it shows.
HOLIDAY_SHIFT_MAX = timedelta(days=14)

# Deliveries that use up a group's monthly mass-message quota.
QUOTA_STATUSES = (
    SopDelivery.Status.PENDING,
    SopDelivery.Status.PUSHING,
    SopDelivery.Status.AWAITING_CONFIRM,
    SopDelivery.Status.SENT,
)


def sop_plan_target_groups(*, plan: SopPlan) -> QuerySet[CustomerGroup]:
    """Live groups a plan reaches: by pool, region (and its sub-regions), owner or list."""
    region_ids = list(plan.target_regions.values_list("id", flat=True))
    condition = Q(pk__in=plan.target_groups.values("pk"))
    condition |= Q(pool__in=plan.target_pools.values("pk"))
    condition |= Q(owner__in=plan.target_owners.values("pk"))
    if region_ids:
        condition |= (
            Q(region_id__in=region_ids)
            | Q(region__parent_id__in=region_ids)
            | Q(region__parent__parent_id__in=region_ids)
        )
    return CustomerGroup.objects.filter(condition, status=CustomerGroup.Status.NORMAL).distinct()


def month_start(day: date) -> date:
    return day.replace(day=1)


def group_monthly_quota(day: date) -> int:
    """WeCom lets a group receive as many corp mass messages a month as the month has days,
    unless the corp set a tighter limit (``SOP_GROUP_MONTHLY_QUOTA``)."""
    configured = getattr(settings, "SOP_GROUP_MONTHLY_QUOTA", 0)
    if configured:
        return configured
    next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (next_month - timedelta(days=1)).day


def groups_over_quota(*, group_ids: list[int], day: date) -> set[int]:
    quota = group_monthly_quota(day)
    used = (
        SopDelivery.objects.filter(
            group_id__in=group_ids, send_month=month_start(day), status__in=QUOTA_STATUSES
        )
        .values("group_id")
        .annotate(n=Count("id"))
        .filter(n__gte=quota)
    )
    return {row["group_id"] for row in used}


@dataclass(frozen=True)
class DueSlot:
    """One moment a slot falls due, and what its plan's holiday policy makes of it."""

    plan: SopPlan
    slot: SopSlot
    nominal_at: datetime
    send_at: datetime | None  # None: skipped (a holiday, policy "skip")
    reason: str


def due_slots(*, plan: SopPlan, after: datetime, until: datetime) -> list[DueSlot]:
    """Every time in (after, until] an active slot of the plan falls due, from when the
    plan was last (re)activated on, with its send time.

    The one computation behind both what the tick records (and so sends) and what
    the preview shows. Uses ``plan.slots.all()``, so prefetch ``slots``.
    """
    after = max(after, plan.active_since)
    due: list[DueSlot] = []
    for slot in plan.slots.all():
        if not slot.is_active:
            continue
        for nominal in calendar.nominal_times(
            weekday=slot.weekday,
            at=slot.time,
            valid_from=slot.valid_from,
            valid_until=slot.valid_until,
            plan_start=plan.start_date,
            plan_end=plan.end_date,
            after=after,
            until=until,
        ):
            send_at, reason = calendar.send_time_for(nominal, plan.holiday_policy)
            due.append(DueSlot(plan, slot, nominal, send_at, reason))
    return due


def sop_group_preview(
    *, group: CustomerGroup, days: int = 7, now: datetime | None = None
) -> list[dict]:
    """What each active plan reaching this group will send in the next ``days`` days:
    the slots that fall due then, and earlier ones a holiday shifted into the window."""
    now = now or timezone.now()
    until = now + timedelta(days=days)
    items: list[dict] = []
    plans = SopPlan.objects.filter(status=SopPlan.Status.ACTIVE).prefetch_related("slots__content")
    for plan in plans:
        if not sop_plan_target_groups(plan=plan).filter(pk=group.pk).exists():
            continue
        for due in due_slots(plan=plan, after=now - HOLIDAY_SHIFT_MAX, until=until):
            if not now < (due.send_at or due.nominal_at) <= until:
                continue
            items.append(
                {
                    "plan": plan,
                    "slot": due.slot,
                    "content": due.slot.content,
                    "nominal_at": due.nominal_at,
                    "send_at": due.send_at,
                    "note": due.reason,
                }
            )
    items.sort(key=lambda item: item["send_at"] or item["nominal_at"])
    return items
