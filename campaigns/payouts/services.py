"""The payout ledger's writes: schedule an entry, cancel it, pay the due ones.

``payout_schedule`` is the one way into the ledger (lottery, referral and red-packet
campaigns call it inside their own transaction). Paying is the due-entry job:
``payouts_pay_due`` claims due entries (``FOR UPDATE SKIP LOCKED``), checks their
conditions and caps, commits, sends through the payment adapter with the entry's
bill number, and records the outcome in a second short transaction. Nothing is
sent under a row lock; a retry (after a failure, a timeout or a dead worker)
always reuses the bill number, which the channel pays at most once.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign
from scrm.core.errors import DomainError
from scrm.core.workdays import SHANGHAI, add_workdays

from .models import Payout, PayoutAttempt, PayoutDayCounter, PayoutPolicy

logger = logging.getLogger(__name__)

CONDITIONS = frozenset(Payout.Condition.values)
REASONS = frozenset(Payout.Reason.values)


def local_today(now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).astimezone(SHANGHAI).date()


def payout_due_on(*, delay_workdays: int, now: dt.datetime | None = None) -> dt.date:
    """The day an entry scheduled ``now`` is paid: the N-th Chinese working day after today."""
    return add_workdays(local_today(now), delay_workdays)


def bill_nos_next(day: dt.date, n: int = 1) -> list[str]:
    """``n`` new bill numbers: merchant id + yyyymmdd + ten digits (WeChat Pay's ``mch_billno``,
    ≤ 28 characters, unique for good: the digits come from a database sequence)."""
    prefix = "".join(ch for ch in settings.PAYMENTS_MCH_ID if ch.isalnum())[:10]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval('payouts_bill_no_seq') FROM generate_series(1, %s)", [max(1, n)]
        )
        values = [row[0] for row in cursor.fetchall()]
    return [f"{prefix}{day:%Y%m%d}{v % 10**10:010d}" for v in values]


def _budget_take(campaign_id: int, amount_fen: int) -> bool:
    return bool(
        Campaign.objects.filter(pk=campaign_id)
        .filter(
            Q(budget_fen__isnull=True) | Q(budget_committed_fen__lte=F("budget_fen") - amount_fen)
        )
        .update(budget_committed_fen=F("budget_committed_fen") + amount_fen)
    )


def _budget_give_back(campaign_id: int, amount_fen: int) -> None:
    Campaign.objects.filter(pk=campaign_id, budget_committed_fen__gte=amount_fen).update(
        budget_committed_fen=F("budget_committed_fen") - amount_fen
    )


def _validate(*, amount_fen, reason, source_key, delay_workdays, conditions, staff, group) -> None:
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise DomainError("invalid_amount", _("金额必须是大于 0 的整数（分）"))
    if not settings.PAYMENTS_MIN_FEN <= amount_fen <= settings.PAYMENTS_MAX_FEN:
        raise DomainError(
            "amount_out_of_range",
            _("单笔金额须在 %(min)s 元到 %(max)s 元之间")
            % {"min": settings.PAYMENTS_MIN_FEN / 100, "max": settings.PAYMENTS_MAX_FEN / 100},
        )
    if reason not in REASONS:
        raise DomainError("invalid_reason", _("未知的发放原因：%(reason)s") % {"reason": reason})
    if not source_key or len(source_key) > 128:
        raise DomainError("invalid_source_key", _("来源键不能为空且不超过 128 个字符"))
    if not isinstance(delay_workdays, int) or delay_workdays < 0 or delay_workdays > 250:
        raise DomainError("invalid_delay", _("延迟发放的工作日数须在 0 到 250 之间"))
    unknown = set(conditions) - CONDITIONS
    if unknown:
        raise DomainError(
            "invalid_condition",
            _("未知的发放条件：%(names)s") % {"names": ", ".join(sorted(unknown))},
        )
    if "group_member" in conditions and group is None:
        raise DomainError("condition_needs_group", _("“仍在群内”条件需要指定客户群"))
    if "friend" in conditions and staff is None:
        raise DomainError("condition_needs_staff", _("“仍是好友”条件需要指定客户经理"))


def payout_schedule(
    *,
    campaign,
    customer,
    amount_fen: int,
    reason: str,
    source_key: str,
    delay_workdays: int = 0,
    conditions: Sequence[str] = (),
    staff=None,
    group=None,
    budget_reserved: bool = False,
    note: str = "",
    now=None,
) -> Payout:
    """Put one money reward on the ledger, due N Chinese working days after ``now``.

    Called inside the caller's transaction. Unless ``budget_reserved``, takes
    ``amount_fen`` from the campaign's budget with a guarded UPDATE and raises
    ``DomainError("budget_exhausted")`` if it does not fit. A second call with the
    same ``source_key`` returns the existing entry and changes nothing. A cancelled
    or given-up entry gives its amount back to the budget.
    """
    conditions = list(dict.fromkeys(conditions))
    _validate(
        amount_fen=amount_fen,
        reason=reason,
        source_key=source_key,
        delay_workdays=delay_workdays,
        conditions=conditions,
        staff=staff,
        group=group,
    )
    existing = Payout.objects.filter(source_key=source_key).first()
    if existing is not None:
        return existing
    now = now or timezone.now()
    today = local_today(now)
    try:
        with transaction.atomic():  # a savepoint: a lost race undoes the budget taken too
            if not budget_reserved and not _budget_take(campaign.pk, amount_fen):
                raise DomainError(
                    "budget_exhausted",
                    _("活动预算不足，无法再发放 %(yuan)s 元") % {"yuan": f"{amount_fen / 100:.2f}"},
                    status=409,
                )
            return Payout.objects.create(
                campaign=campaign,
                customer=customer,
                reason=reason,
                amount_fen=amount_fen,
                bill_no=bill_nos_next(today)[0],
                source_key=source_key,
                due_on=add_workdays(today, delay_workdays),
                conditions=conditions,
                staff=staff,
                group=group,
                budget_reserved=budget_reserved,
                note=note[:200],
            )
    except IntegrityError:
        existing = Payout.objects.filter(source_key=source_key).first()
        if existing is None:
            raise
        return existing


def _close(
    payout_ids: Sequence[int], *, status: str, cancel_reason: str = "", error: str = "", now=None
) -> int:
    """Cancel or give up open entries and give their amounts back (budget, day caps)."""
    now = now or timezone.now()
    closed = list(
        Payout.objects.filter(pk__in=list(payout_ids))
        .filter(status__in=[Payout.Status.SCHEDULED, Payout.Status.SENDING, Payout.Status.FAILED])
        .values_list(
            "pk", "campaign_id", "amount_fen", "budget_reserved", "counted_on", "customer_id"
        )
    )
    if not closed:
        return 0
    fields = {"status": status, "closed_at": now, "lease_until": None, "next_attempt_at": None}
    if cancel_reason:
        fields["cancel_reason"] = cancel_reason
    if error:
        fields["last_error"] = error[:255]
    Payout.objects.filter(pk__in=[row[0] for row in closed]).update(**fields)
    back: dict[int, int] = {}
    for _pk, campaign_id, amount, _reserved, counted_on, customer_id in closed:
        # Every entry's amount is in the campaign's committed budget (taken here or by the
        # caller): a closed entry's amount goes back either way.
        back[campaign_id] = back.get(campaign_id, 0) + amount
        if counted_on is not None:
            _counters_release(counted_on, customer_id, campaign_id, amount)
    for campaign_id, amount in back.items():
        _budget_give_back(campaign_id, amount)
    return len(closed)


def payout_cancel(*, payout: Payout, reason: str = Payout.CancelReason.BY_OPS, now=None) -> bool:
    """Cancel an entry not yet sent; its amount goes back to the campaign's budget."""
    if reason not in Payout.CancelReason.values:
        raise DomainError("invalid_cancel_reason", _("未知的取消原因"))
    with transaction.atomic():
        row = Payout.objects.select_for_update(skip_locked=True).filter(pk=payout.pk).first()
        if row is None or row.status == Payout.Status.SENDING:
            raise DomainError("payout_busy", _("这笔发放正在发送中，不能取消"), status=409)
        if row.status not in (Payout.Status.SCHEDULED, Payout.Status.FAILED) or row.needs_query:
            raise DomainError(
                "payout_not_open", _("这笔发放已结束或结果待确认，不能取消"), status=409
            )
        return bool(_close([row.pk], status=Payout.Status.CANCELLED, cancel_reason=reason, now=now))


# ---------------------------------------------------------------------- daily caps
_COUNTER_BUMP = """
INSERT INTO payouts_payoutdaycounter AS c (scope, day, count, amount_fen)
VALUES (%(scope)s, %(day)s, 1, %(amount)s)
ON CONFLICT (scope, day) DO UPDATE
SET count = c.count + 1, amount_fen = c.amount_fen + EXCLUDED.amount_fen
WHERE (%(max_count)s = 0 OR c.count + 1 <= %(max_count)s)
  AND (%(max_fen)s = 0 OR c.amount_fen + EXCLUDED.amount_fen <= %(max_fen)s)
RETURNING c.count
"""


def _caps(
    customer_id: int, campaign_id: int, daily_budget: int | None
) -> list[tuple[str, int, int]]:
    """(scope, max count, max fen) of every cap an entry counts against (0: no cap)."""
    return [
        (
            f"customer:{customer_id}",
            settings.PAYOUTS_CUSTOMER_DAILY_COUNT,
            settings.PAYOUTS_CUSTOMER_DAILY_FEN,
        ),
        (f"campaign:{campaign_id}", 0, daily_budget or 0),
        ("all", 0, settings.PAYOUTS_DAILY_BUDGET_FEN),
    ]


def _counters_take(
    day: dt.date, customer_id: int, campaign_id: int, amount: int, daily_budget
) -> str:
    """Count one entry against the day's caps, all or nothing; '' or the scope that is full.

    Runs in the claim's transaction, under a savepoint per entry, so a full cap undoes
    the scopes already bumped."""
    with transaction.atomic(), connection.cursor() as cursor:
        for scope, max_count, max_fen in _caps(customer_id, campaign_id, daily_budget):
            if not max_count and not max_fen:
                continue
            cursor.execute(
                _COUNTER_BUMP,
                {
                    "scope": scope,
                    "day": day,
                    "amount": amount,
                    "max_count": max_count,
                    "max_fen": max_fen,
                },
            )
            if cursor.fetchone() is None:
                transaction.set_rollback(True)
                return scope.split(":", 1)[0]
    return ""


def _counters_release(day: dt.date, customer_id: int, campaign_id: int, amount: int) -> None:
    scopes = [f"customer:{customer_id}", f"campaign:{campaign_id}", "all"]
    PayoutDayCounter.objects.filter(
        day=day, scope__in=scopes, count__gt=0, amount_fen__gte=amount
    ).update(count=F("count") - 1, amount_fen=F("amount_fen") - amount)
