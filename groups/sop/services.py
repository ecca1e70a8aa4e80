"""SOP writes: scheduling slots, the beat tick, expanding an occurrence into deliveries.

Every step is idempotent through the database: occurrences are unique per
(slot, nominal time), deliveries per (occurrence, group), and an occurrence is
claimed with a guarded update before it is expanded.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scrm.content.selectors import content_get_approved
from scrm.core.errors import DomainError
from scrm.wecom.adapter import wecom
from scrm.wecom.errors import WeComError
from scrm.workspace.services import tasks_close_for_push

from . import calendar
from .models import SopDelivery, SopOccurrence, SopPlan, SopPush, SopSlot
from .selectors import due_slots, groups_over_quota, month_start, sop_plan_target_groups

logger = logging.getLogger(__name__)

# How far back a tick looks for slots it has not recorded yet (a beat outage
# shorter than this loses nothing); older slots are not sent late.
TICK_LOOKBACK = timedelta(hours=2)
# An occurrence whose send time passed longer ago than this is skipped, not sent late.
LATE_GRACE = timedelta(hours=2)


def claim_timeout() -> timedelta:
    """A claim older than this belongs to a worker that died: it may be taken over."""
    return timedelta(seconds=settings.SOP_CLAIM_TIMEOUT_S)


def sop_slot_validate(*, content_id: int) -> None:
    """Only approved content can be scheduled (raises ``content_not_approved``)."""
    content_get_approved(content_id=content_id)


@transaction.atomic
def sop_slot_create(
    *,
    plan: SopPlan,
    content_id: int,
    at: time,
    weekday: int | None = None,
    valid_from: date | None = None,
    valid_until: date | None = None,
    note: str = "",
) -> SopSlot:
    sop_slot_validate(content_id=content_id)
    if weekday is not None and not 0 <= weekday <= 6:
        raise DomainError("invalid_weekday", "星期必须在周一到周日之间")
    if valid_from and valid_until and valid_until < valid_from:
        raise DomainError("invalid_range", "截止日期不能早于生效日期")
    return SopSlot.objects.create(
        plan=plan,
        content_id=content_id,
        time=at,
        weekday=weekday,
        valid_from=valid_from,
        valid_until=valid_until,
        note=note,
    )


@transaction.atomic
def sop_plan_save(*, plan: SopPlan, actor) -> SopPlan:
    """Save a plan edited by ops (the admin form). A change of status goes through
    pause/resume, so a resumed plan starts from now and never sends missed slots late."""
    if plan.end_date and plan.start_date and plan.end_date < plan.start_date:
        raise DomainError("invalid_range", "结束日期不能早于开始日期")
    if plan.pk is None:
        plan.created_by = actor
        plan.save()
        return plan
    wanted = plan.status
    current = SopPlan.objects.select_for_update().get(pk=plan.pk)
    plan.status, plan.paused_at, plan.active_since = (
        current.status,
        current.paused_at,
        current.active_since,
    )
    plan.save()
    if wanted != current.status:
        changed = (
            sop_plan_pause(plan_id=plan.pk)
            if wanted == SopPlan.Status.PAUSED
            else sop_plan_resume(plan_id=plan.pk)
        )
        plan.status, plan.paused_at, plan.active_since = (
            changed.status,
            changed.paused_at,
            changed.active_since,
        )
    return plan


@transaction.atomic
def sop_plan_pause(*, plan_id: int) -> SopPlan:
    plan = SopPlan.objects.select_for_update().get(pk=plan_id)
    if plan.status != SopPlan.Status.PAUSED:
        plan.status = SopPlan.Status.PAUSED
        plan.paused_at = timezone.now()
        plan.save(update_fields=["status", "paused_at", "updated_at"])
    return plan


@transaction.atomic
def sop_plan_resume(*, plan_id: int) -> SopPlan:
    """Resume from now on: slots missed while paused are not sent late."""
    plan = SopPlan.objects.select_for_update().get(pk=plan_id)
    if plan.status != SopPlan.Status.ACTIVE:
        plan.status = SopPlan.Status.ACTIVE
        plan.paused_at = None
        plan.active_since = timezone.now()
        plan.save(update_fields=["status", "paused_at", "active_since", "updated_at"])
    return plan


def _record_due_occurrences(*, now: datetime) -> int:
    """Create an occurrence for every active slot that fell due in the lookback window."""
    rows: list[SopOccurrence] = []
    plans = SopPlan.objects.filter(status=SopPlan.Status.ACTIVE).prefetch_related("slots")
    for plan in plans:
        for due in due_slots(plan=plan, after=now - TICK_LOOKBACK, until=now):
            rows.append(
                SopOccurrence(
                    plan=plan,
                    slot=due.slot,
                    nominal_at=due.nominal_at,
                    send_at=due.send_at or due.nominal_at,
                    status=(
                        SopOccurrence.Status.PENDING
                        if due.send_at
                        else SopOccurrence.Status.SKIPPED
                    ),
                    reason=due.reason,
                )
            )
    created = SopOccurrence.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)


def sop_tick(*, now: datetime | None = None) -> list[int]:
    """The beat tick: record due occurrences and return the ids ready to process: due
    ones, expansions whose worker died, and expanded ones whose pushes were never made.
    What was missed for longer than ``LATE_GRACE`` is skipped, not sent late.

    Safe to run twice at once or twice in a row: the unique keys make the second
    run a no-op, and expansion claims each occurrence before working on it.
    """
    now = now or timezone.now()
    _record_due_occurrences(now=now)
    SopOccurrence.objects.filter(
        status=SopOccurrence.Status.PENDING, send_at__lt=now - LATE_GRACE
    ).update(status=SopOccurrence.Status.SKIPPED, reason="错过发送时间，未补发")
    SopDelivery.objects.filter(
        occurrence__status=SopOccurrence.Status.EXPANDED,
        occurrence__send_at__lt=now - LATE_GRACE,
        status=SopDelivery.Status.PENDING,
        push__isnull=True,
    ).update(status=SopDelivery.Status.SKIPPED, reason="错过发送时间，未补发")
    due = SopOccurrence.objects.filter(status=SopOccurrence.Status.PENDING, send_at__lte=now)
    stale = SopOccurrence.objects.filter(
        status=SopOccurrence.Status.EXPANDING, claimed_at__lt=now - claim_timeout()
    )
    # Expanded, but the worker stopped before grouping the deliveries into pushes.
    unpushed = SopOccurrence.objects.filter(
        status=SopOccurrence.Status.EXPANDED,
        send_at__gte=now - LATE_GRACE,
        claimed_at__lt=now - claim_timeout(),
        deliveries__status=SopDelivery.Status.PENDING,
        deliveries__push__isnull=True,
    ).distinct()
    return [
        *due.values_list("id", flat=True),
        *stale.values_list("id", flat=True),
        *unpushed.values_list("id", flat=True),
    ]


def _claim(occurrence_id: int, now: datetime) -> bool:
    fresh = SopOccurrence.objects.filter(
        pk=occurrence_id, status=SopOccurrence.Status.PENDING
    ).update(status=SopOccurrence.Status.EXPANDING, claimed_at=now)
    if fresh == 1:
        return True
    taken_over = SopOccurrence.objects.filter(
        pk=occurrence_id,
        status=SopOccurrence.Status.EXPANDING,
        claimed_at__lt=now - claim_timeout(),
    ).update(claimed_at=now)
    return taken_over == 1


def sop_occurrence_expand(*, occurrence_id: int, now: datetime | None = None) -> int:
    """Turn one due occurrence into one delivery per target group. Returns how many
    deliveries this call created (0 when another worker already did the work)."""
    now = now or timezone.now()
    if not _claim(occurrence_id, now):
        return 0
    occurrence = SopOccurrence.objects.select_related("plan", "slot").get(pk=occurrence_id)
    plan = occurrence.plan
    if plan.status != SopPlan.Status.ACTIVE:
        _finish(occurrence, SopOccurrence.Status.CANCELLED, "计划已暂停")
        return 0
    try:
        version = content_get_approved(content_id=occurrence.slot.content_id)
    except DomainError as exc:
        _finish(occurrence, SopOccurrence.Status.SKIPPED, exc.message)
        return 0
    groups = list(sop_plan_target_groups(plan=plan).values_list("id", "owner_userid"))
    send_day = occurrence.send_at.astimezone(calendar.SHANGHAI).date()
    over_quota = groups_over_quota(group_ids=[g for g, _ in groups], day=send_day)
    created = 0
    batch = 2000
    for start in range(0, len(groups), batch):
        rows = [
            SopDelivery(
                occurrence=occurrence,
                group_id=group_id,
                owner_userid=owner or "",
                send_month=month_start(send_day),
                status=(
                    SopDelivery.Status.SKIPPED
                    if group_id in over_quota or not owner
                    else SopDelivery.Status.PENDING
                ),
                reason=(
                    "本月群发次数已达上限"
                    if group_id in over_quota
                    else ("群主未知" if not owner else "")
                ),
            )
            for group_id, owner in groups[start : start + batch]
        ]
        created += len(SopDelivery.objects.bulk_create(rows, ignore_conflicts=True))
    occurrence.content_version = version
    occurrence.group_count = len(groups)
    _finish(occurrence, SopOccurrence.Status.EXPANDED, "")
    logger.info("sop occurrence %s expanded into %s deliveries", occurrence_id, len(groups))
    return created


def sop_occurrence_process(*, occurrence_id: int, now: datetime | None = None) -> list[int]:
    """Expand a due occurrence (if no other worker has) and group its pending deliveries
    into pushes; returns the ids of the pushes waiting to be sent.

    Safe to repeat: expansion is claimed, pushes are unique per owner and chunk. An
    occurrence that is gone (its plan deleted) or did not expand gives nothing.
    """
    from .push import sop_pushes_create

    if not SopOccurrence.objects.filter(pk=occurrence_id).exists():
        return []
    sop_occurrence_expand(occurrence_id=occurrence_id, now=now)
    occurrence = SopOccurrence.objects.select_related("content_version").get(pk=occurrence_id)
    if occurrence.status != SopOccurrence.Status.EXPANDED:
        return []
    return sop_pushes_create(occurrence=occurrence)


def _finish(occurrence: SopOccurrence, status: str, reason: str) -> None:
    occurrence.status = status
    occurrence.reason = reason
    occurrence.save(update_fields=["status", "reason", "content_version", "group_count"])


def sop_occurrence_cancel(*, occurrence_id: int, reason: str = "运营取消") -> int:
    """Cancel a whole slot: it will not expand, unsent deliveries stop, and mass
    messages already waiting for owners in WeCom are withdrawn. Returns how many
    group deliveries were stopped."""
    with transaction.atomic():
        occurrence = SopOccurrence.objects.select_for_update().get(pk=occurrence_id)
        if occurrence.status in (
            SopOccurrence.Status.PENDING,
            SopOccurrence.Status.EXPANDING,
            SopOccurrence.Status.EXPANDED,
        ):
            occurrence.status = SopOccurrence.Status.CANCELLED
            occurrence.reason = reason
            occurrence.save(update_fields=["status", "reason"])
        SopPush.objects.filter(occurrence=occurrence, status=SopPush.Status.PENDING).update(
            status=SopPush.Status.CANCELLED, last_error=reason
        )
        waiting = list(
            SopPush.objects.filter(
                occurrence=occurrence, status=SopPush.Status.AWAITING_CONFIRM
            ).exclude(msgid="")
        )
        stopped = SopDelivery.objects.filter(
            occurrence=occurrence,
            status__in=(SopDelivery.Status.PENDING, SopDelivery.Status.AWAITING_CONFIRM),
        ).update(status=SopDelivery.Status.CANCELLED, reason=reason)
    for push in waiting:
        _withdraw(push, reason)
    return stopped


def _withdraw(push, reason: str) -> None:
    """Withdraw a mass message the owner has not confirmed yet (cancel_groupmsg_send)."""
    try:
        wecom.group_msg_cancel(push.msgid)
    except WeComError as exc:  # already sent or cancelled: the record says so
        SopPush.objects.filter(pk=push.pk).update(last_error=f"撤回失败：{exc}"[:1000])
        return
    SopPush.objects.filter(pk=push.pk).update(status=SopPush.Status.CANCELLED, last_error=reason)
    tasks_close_for_push(push_id=push.pk, done=False, reason=reason)
