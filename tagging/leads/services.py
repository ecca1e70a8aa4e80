"""Writes of lead activation (D12): the day's dormant bank customers handed to their
branch's customer managers, each with a task and a suggested friend-request text.

Run daily by the ``leads.assign_daily`` task. Fair: a branch's ranked leads go one by
one to the manager with the fewest leads that day; capped: a manager gets at most
``LEADS_DAILY_CAP`` a day (``LeadAssignment``'s unique ``(staff, day, slot)`` with
``slot`` ≤ the cap); deduped: a customer goes out at most once a week (unique
``(bank_record, week)``), and the task's dedupe key says the same.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from contacts.crypto import mask_name, mask_phone
from contacts.models import BankRecord, Staff
from scrm.core.workdays import SHANGHAI
from scrm.workspace.models import ManagerTask
from scrm.workspace.services import task_ensure

from .models import LeadAssignment, LeadOffer, LeadRank, Tier
from .selectors import (
    Lead,
    ranking_params,
    ranking_snapshot_sql,
    snapshot_leads,
    week_key,
)

log = logging.getLogger(__name__)

DEFAULT_DAILY_CAP = 10
# WeCom's client takes the verification message of a friend request as free text; the
# adapter docs give no limit, so it is kept to what a phone shows in full (setting).
DEFAULT_VERIFY_TEXT_MAX = 50
ASSIGN_CHUNK = 200
DEFAULT_OFFER = "为您提供专属理财服务"

WHY = {
    Tier.ACTIVE_CLAIMED: "您近期领取了我行权益",
    Tier.BROWSING: "看到您近期在关注我行产品",
    Tier.BROWSED: "您之前关注过我行产品",
    Tier.BIRTHDAY: "今天是您的生日，祝您生日快乐",
}


def daily_cap() -> int:
    return max(0, int(getattr(settings, "LEADS_DAILY_CAP", DEFAULT_DAILY_CAP)))


def verify_text_max() -> int:
    return int(getattr(settings, "LEADS_VERIFY_TEXT_MAX", DEFAULT_VERIFY_TEXT_MAX))


def offer_text(*, branch_id: int | None, today: date) -> str:
    """The benefit a lead of this branch gets: the branch's own live offer, else one for
    all branches, else the default service promise."""
    offers = (
        LeadOffer.objects.filter(is_active=True)
        .filter(Q(branch_id=branch_id) | Q(branch__isnull=True))
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        .order_by("branch_id", "-created_at")  # a branch's own first (NULLs sort last)
    )
    offer = offers.first()
    return offer.text if offer else DEFAULT_OFFER


def verify_text(*, manager: str, branch: str, tier: int, offer: str, bank: str = "") -> str:
    """The suggested friend-request text: who I am (bank, branch, manager), why (the
    tier's reason) and what you get (the offer), within ``LEADS_VERIFY_TEXT_MAX``.
    Longer parts give way in this order: the bank name, the branch, the offer's length."""
    limit = verify_text_max()
    why = WHY[Tier(tier)]
    get = f"加我{offer}" if not offer.startswith(("为您", "送您", "加我")) else offer

    def build(bank_part: str, branch_part: str, get_part: str) -> str:
        return f"您好，我是{bank_part}{branch_part}客户经理{manager}，{why}，{get_part}"

    for bank_part, branch_part in ((bank, branch), ("", branch), ("", "")):
        text = build(bank_part, branch_part, get)
        if len(text) <= limit:
            return text
    text = build("", "", get)
    return text[: limit - 1] + "…" if len(text) > limit else text


@dataclass
class AssignReport:
    leads: int = 0
    assigned: int = 0
    tasks: int = 0
    no_manager: int = 0
    over_cap: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _managers_by_branch(branch_ids: set[int]) -> dict[int, list[Staff]]:
    out: dict[int, list[Staff]] = defaultdict(list)
    staff = (
        Staff.objects.filter(
            branch_id__in=branch_ids, status=Staff.Status.ACTIVE, is_follow_user=True
        )
        .select_related("branch")
        .order_by("id")
    )
    for member in staff:
        out[member.branch_id].append(member)
    return out


def _assign_one(
    *, lead: Lead, record: BankRecord, staff: Staff, slot: int, day: date, week: str, text: str
) -> tuple[LeadAssignment | None, bool]:
    """Put the task on the list and claim the slot and the week for this record, in one
    savepoint; None (and no task) when a concurrent run took the slot or the record."""
    name = mask_name(record.name) or record.customer_no
    phone = mask_phone(record.phone)
    try:
        with transaction.atomic():
            task, created = task_ensure(
                staff=staff,
                kind=ManagerTask.Kind.LEAD_ACTIVATION,
                title=f"存量客户激活：{name} {phone}".strip(),
                detail=f"{Tier(lead.tier).label}｜客户号 {record.customer_no}｜建议验证语：{text}",
                dedupe_key=f"lead:{record.pk}:{week}",
                due_date=day,
                priority=50 - lead.tier * 10,
            )
            assignment = LeadAssignment.objects.create(
                bank_record=record,
                staff=staff,
                day=day,
                slot=slot,
                week=week,
                tier=lead.tier,
                verify_text=text,
                task=task,
            )
    except IntegrityError:
        return None, False
    return assignment, created


@transaction.atomic
def leads_refresh(*, now: datetime | None = None) -> int:
    """Recompute the ranked list into ``LeadRank`` (one statement); returns its length.
    Readers of the page see the old list until this commits."""
    now = now or timezone.now()
    today = now.astimezone(SHANGHAI).date()
    LeadRank.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(ranking_snapshot_sql(), ranking_params(now=now, today=today))
        return cursor.rowcount


def leads_assign(*, today: date | None = None, now: datetime | None = None) -> AssignReport:
    """Recompute the ranked list, then hand its leads not yet handed out this week to
    their branch's managers, fairly and within the daily cap; one task each."""
    now = now or timezone.now()
    today = today or now.astimezone(SHANGHAI).date()
    week = week_key(today)
    cap = daily_cap()
    report = AssignReport()
    leads_refresh(now=now)
    leads = snapshot_leads(unassigned_week=week)
    report.leads = len(leads)
    if not leads or cap == 0:
        return report
    managers = _managers_by_branch({lead.branch_id for lead in leads if lead.branch_id})
    staff_ids = [m.pk for ms in managers.values() for m in ms]
    load = dict(
        LeadAssignment.objects.filter(day=today, staff_id__in=staff_ids)
        .values("staff_id")
        .annotate(n=Count("id"))
        .values_list("staff_id", "n")
    )
    # Plan in memory (who gets which lead, in which slot), then write only the planned.
    plan: list[tuple[Lead, Staff, int]] = []
    for lead in leads:
        team = managers.get(lead.branch_id) if lead.branch_id else None
        if not team:
            report.no_manager += 1
            continue
        free = [m for m in team if load.get(m.pk, 0) < cap]
        if not free:
            report.over_cap += 1
            continue
        staff = min(free, key=lambda m: (load.get(m.pk, 0), m.pk))
        load[staff.pk] = load.get(staff.pk, 0) + 1
        plan.append((lead, staff, load[staff.pk]))
    records = BankRecord.objects.in_bulk([lead.record_id for lead, _s, _n in plan])
    offers: dict[int | None, str] = {}
    bank = getattr(settings, "SCRM_BANK_NAME", "")
    # Committed in chunks (one commit per lead would wait on the disk 2,000 times); each
    # lead has its own savepoint, so a slot lost to a concurrent run skips that lead only.
    for start in range(0, len(plan), ASSIGN_CHUNK):
        with transaction.atomic():
            for lead, staff, slot in plan[start : start + ASSIGN_CHUNK]:
                if lead.branch_id not in offers:
                    offers[lead.branch_id] = offer_text(branch_id=lead.branch_id, today=today)
                text = verify_text(
                    manager=staff.name,
                    branch=staff.branch.name if staff.branch else "",
                    bank=bank,
                    tier=lead.tier,
                    offer=offers[lead.branch_id],
                )
                assignment, created = _assign_one(
                    lead=lead,
                    record=records[lead.record_id],
                    staff=staff,
                    slot=slot,
                    day=today,
                    week=week,
                    text=text,
                )
                if assignment is not None:  # None: a concurrent run took the slot or record
                    report.assigned += 1
                    report.tasks += created
    return report
