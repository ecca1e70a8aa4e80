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
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign
from contacts.models import FollowRelation
from groups.models import GroupMember
from scrm.core.errors import DomainError
from scrm.core.workdays import SHANGHAI, add_workdays
from scrm.payments.adapter import Outcome, PaymentResult, PayoutRequest, payments
from scrm.wecom.errors import WeComConfigError, WeComError

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
    prefix = _bill_prefix()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval('payouts_bill_no_seq') FROM generate_series(1, %s)", [max(1, n)]
        )
        values = [row[0] for row in cursor.fetchall()]
    return [f"{prefix}{day:%Y%m%d}{v % 10**10:010d}" for v in values]


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
    now = now or timezone.now()
    today = local_today(now)
    values = {
        "campaign": campaign.pk,
        "customer": customer.pk,
        "reason": reason,
        "amount": amount_fen,
        "prefix": _bill_prefix() + f"{today:%Y%m%d}",
        "source_key": source_key,
        "due_on": add_workdays(today, delay_workdays),
        "conditions": json.dumps(conditions),
        "staff": staff.pk if staff is not None else None,
        "group": group.pk if group is not None else None,
        "reserved": budget_reserved,
        "note": note[:200],
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(_SCHEDULE_SQL, values)
        budget_taken, pk, bill_no = cursor.fetchone()
    if pk is None:
        if budget_taken:  # another call with this key won the race: undo our part
            _budget_give_back(campaign.pk, amount_fen)
        existing = Payout.objects.filter(source_key=source_key).first()
        if existing is not None:
            return existing
        raise DomainError(
            "budget_exhausted",
            _("活动预算不足，无法再发放 %(yuan)s 元") % {"yuan": f"{amount_fen / 100:.2f}"},
            status=409,
        )
    return Payout(
        pk=pk,
        campaign=campaign,
        customer=customer,
        reason=reason,
        amount_fen=amount_fen,
        bill_no=bill_no,
        source_key=source_key,
        status=Payout.Status.SCHEDULED,
        due_on=values["due_on"],
        conditions=conditions,
        staff=staff,
        group=group,
        budget_reserved=budget_reserved,
        note=values["note"],
        created_at=now,
        updated_at=now,
    )


# The budget's guarded UPDATE and the insert in one statement (the claim path's shape):
# nothing is inserted unless the budget took the amount (or the caller reserved it), and
# no budget is taken for a key already on the ledger.
_SCHEDULE_SQL = """
WITH budget AS (
    UPDATE campaigns_campaign AS c
    SET budget_committed_fen = c.budget_committed_fen + %(amount)s
    WHERE c.id = %(campaign)s AND NOT %(reserved)s
      AND (c.budget_fen IS NULL OR c.budget_committed_fen + %(amount)s <= c.budget_fen)
      AND NOT EXISTS (SELECT 1 FROM payouts_payout WHERE source_key = %(source_key)s)
    RETURNING c.id
), ins AS (
    INSERT INTO payouts_payout (
        campaign_id, customer_id, reason, amount_fen, bill_no, source_key, status, due_on,
        conditions, staff_id, group_id, budget_reserved, note, cancel_reason, attempt_count,
        needs_query, deferrals, last_error, channel, channel_ref, openid, created_at, updated_at)
    SELECT %(campaign)s, %(customer)s, %(reason)s, %(amount)s,
        %(prefix)s || lpad((nextval('payouts_bill_no_seq') %% 10000000000)::text, 10, '0'),
        %(source_key)s, 'scheduled', %(due_on)s, %(conditions)s::jsonb, %(staff)s, %(group)s,
        %(reserved)s, %(note)s, '', 0, false, 0, '', '', '', '', %(now)s, %(now)s
    WHERE %(reserved)s OR EXISTS (SELECT 1 FROM budget)
    ON CONFLICT (source_key) DO NOTHING
    RETURNING id, bill_no
)
SELECT EXISTS (SELECT 1 FROM budget), (SELECT id FROM ins), (SELECT bill_no FROM ins)
"""


def _bill_prefix() -> str:
    return "".join(ch for ch in settings.PAYMENTS_MCH_ID if ch.isalnum())[:10]


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


_CUSTOMER_BUMP_MANY = """
INSERT INTO payouts_payoutdaycounter AS c (scope, day, count, amount_fen)
SELECT v.scope, %(day)s, 1, v.amount FROM unnest(%(scopes)s::varchar[], %(amounts)s::bigint[])
    AS v(scope, amount)
ON CONFLICT (scope, day) DO UPDATE
SET count = c.count + 1, amount_fen = c.amount_fen + EXCLUDED.amount_fen
WHERE (%(max_count)s = 0 OR c.count + 1 <= %(max_count)s)
  AND (%(max_fen)s = 0 OR c.amount_fen + EXCLUDED.amount_fen <= %(max_fen)s)
RETURNING c.scope
"""


def _counters_take_many(day: dt.date, rows: list, policies: dict) -> dict[int, str]:
    """Count entries against the day's caps; pk → the scope that is full, for those that
    did not fit. With only the per-customer cap in force (the usual case) the first entry
    of each customer is counted in one statement for the batch."""
    if not rows:
        return {}
    max_count, max_fen = settings.PAYOUTS_CUSTOMER_DAILY_COUNT, settings.PAYOUTS_CUSTOMER_DAILY_FEN
    only_customer = not settings.PAYOUTS_DAILY_BUDGET_FEN and not any(
        policies.get(r.campaign_id) and policies[r.campaign_id].daily_budget_fen for r in rows
    )
    if not only_customer or not (max_count or max_fen):
        return _counters_take_each(day, rows, policies)
    firsts, rest, seen = [], [], set()
    for r in rows:
        (rest if r.customer_id in seen else firsts).append(r)
        seen.add(r.customer_id)
    with connection.cursor() as cursor:
        cursor.execute(
            _CUSTOMER_BUMP_MANY,
            {
                "day": day,
                "scopes": [f"customer:{r.customer_id}" for r in firsts],
                "amounts": [r.amount_fen for r in firsts],
                "max_count": max_count,
                "max_fen": max_fen,
            },
        )
        counted = {row[0] for row in cursor.fetchall()}
    full = {r.pk: "customer" for r in firsts if f"customer:{r.customer_id}" not in counted}
    full.update(_counters_take_each(day, rest, policies))
    return full


def _counters_take_each(day: dt.date, rows: list, policies: dict) -> dict[int, str]:
    full = {}
    for r in rows:
        policy = policies.get(r.campaign_id)
        scope = _counters_take(
            day, r.customer_id, r.campaign_id, r.amount_fen, policy and policy.daily_budget_fen
        )
        if scope:
            full[r.pk] = scope
    return full


def _counters_release(day: dt.date, customer_id: int, campaign_id: int, amount: int) -> None:
    scopes = [f"customer:{customer_id}", f"campaign:{campaign_id}", "all"]
    PayoutDayCounter.objects.filter(
        day=day, scope__in=scopes, count__gt=0, amount_fen__gte=amount
    ).update(count=F("count") - 1, amount_fen=F("amount_fen") - amount)


# ---------------------------------------------------------------------- the due-entry job
@dataclass
class _Claimed:
    """One entry claimed for a send (or a query first), as the send threads see it."""

    pk: int
    number: int  # the attempt number: the record step only applies to this claim
    attempt_id: int
    bill_no: str
    amount_fen: int
    external_userid: str
    openid: str
    needs_query: bool
    act_name: str
    wishing: str
    sender_name: str
    remark: str
    result: PaymentResult | None = None
    queried: PaymentResult | None = None


@dataclass
class PayRun:
    """What one run of the job did (for logs, the task's result and the bench)."""

    claimed: int = 0
    outcomes: Counter = field(default_factory=Counter)
    cancelled: Counter = field(default_factory=Counter)
    deferred: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "claimed": self.claimed,
            **{f"sent_{k}": v for k, v in self.outcomes.items()},
            **{f"cancelled_{k}": v for k, v in self.cancelled.items()},
            **{f"deferred_{k}": v for k, v in self.deferred.items()},
        }


OPEN = (Payout.Status.SCHEDULED, Payout.Status.SENDING, Payout.Status.FAILED)


def retry_delay(attempt: int, hint_s: float = 0.0) -> float:
    """Exponential backoff with jitter, never shorter than the channel's hint."""
    cap = min(settings.PAYOUTS_RETRY_MAX_S, settings.PAYOUTS_RETRY_BASE_S * (2 ** (attempt - 1)))
    return max(hint_s, cap / 2 + random.uniform(0, cap / 2))


def _due_rows(now: dt.datetime, today: dt.date, n: int) -> list[Payout]:
    """Up to ``n`` due entries, locked (skipping any another worker holds): claims whose
    worker died first, then retries that are due, then the day's scheduled entries."""
    base = Payout.objects.select_for_update(skip_locked=True, of=("self",)).select_related(
        "customer"
    )
    rows: list[Payout] = []
    for query in (
        base.filter(status=Payout.Status.SENDING, lease_until__lt=now),
        base.filter(status=Payout.Status.FAILED, next_attempt_at__lte=now),
        base.filter(status=Payout.Status.SCHEDULED, due_on__lte=today),
    ):
        if len(rows) >= n:
            break
        rows.extend(query.order_by()[: n - len(rows)])
    return rows


def _conditions_failing(rows: list[Payout]) -> dict[int, str]:
    """pk → cancel reason, for entries whose payout-day conditions do not hold."""
    members = {(r.group_id, r.customer_id) for r in rows if "group_member" in r.conditions}
    friends = {(r.staff_id, r.customer_id) for r in rows if "friend" in r.conditions}
    in_group = set()
    if members:
        q = Q()
        for group_id, customer_id in members:
            q |= Q(group_id=group_id, customer_id=customer_id)
        in_group = set(
            GroupMember.objects.filter(q, is_active=True).values_list("group_id", "customer_id")
        )
    still_friends = set()
    if friends:
        q = Q()
        for staff_id, customer_id in friends:
            q |= Q(staff_id=staff_id, customer_id=customer_id)
        still_friends = set(
            FollowRelation.objects.filter(q, status=FollowRelation.Status.ACTIVE).values_list(
                "staff_id", "customer_id"
            )
        )
    failing: dict[int, str] = {}
    for r in rows:
        if "group_member" in r.conditions and (r.group_id, r.customer_id) not in in_group:
            failing[r.pk] = Payout.CancelReason.LEFT_GROUP
        elif "friend" in r.conditions and (r.staff_id, r.customer_id) not in still_friends:
            failing[r.pk] = Payout.CancelReason.NOT_FRIEND
        elif "verified" in r.conditions and r.customer.verified_at is None:
            failing[r.pk] = Payout.CancelReason.NOT_VERIFIED
    return failing


def _policies(campaign_ids: set[int]) -> dict[int, PayoutPolicy]:
    return {p.campaign_id: p for p in PayoutPolicy.objects.filter(campaign_id__in=campaign_ids)}


def _campaign_names(campaign_ids: set[int]) -> dict[int, str]:
    return dict(Campaign.objects.filter(pk__in=campaign_ids).values_list("pk", "title"))


@transaction.atomic
def _claim(*, now: dt.datetime, n: int, run: PayRun) -> tuple[list[_Claimed], bool]:
    """Claim up to ``n`` due entries in one short transaction (no remote call in it).

    Returns the entries to send, and whether any due entry was found at all (those whose
    conditions failed are cancelled, those over a cap deferred, in this transaction)."""
    today = local_today(now)
    rows = _due_rows(now, today, n)
    if not rows:
        return [], False
    first_sends = [r for r in rows if r.status == Payout.Status.SCHEDULED and not r.counted_on]
    failing = _conditions_failing([r for r in first_sends if r.conditions])
    for reason in failing.values():
        run.cancelled[reason] += 1
    by_reason: dict[str, list[int]] = {}
    for pk, reason in failing.items():
        by_reason.setdefault(reason, []).append(pk)
    for reason, pks in by_reason.items():
        _close(pks, status=Payout.Status.CANCELLED, cancel_reason=reason, now=now)
    campaign_ids = {r.campaign_id for r in rows}
    policies = _policies(campaign_ids)
    names = _campaign_names(campaign_ids)
    claimed: list[Payout] = []
    for r in rows:
        if r.pk in failing:
            continue
        if r.status == Payout.Status.SENDING:
            r.needs_query = True  # its worker died: the send may have reached the channel
        claimed.append(r)
    fulls = _counters_take_many(today, [r for r in claimed if r.counted_on is None], policies)
    deferred = [r.pk for r in claimed if r.pk in fulls]
    for scope in fulls.values():
        run.deferred[scope] += 1
    claimed = [r for r in claimed if r.pk not in fulls]
    for r in claimed:
        r.counted_on = r.counted_on or today
    if deferred:
        # Over a daily cap: the entry waits for the next day (it stays scheduled).
        Payout.objects.filter(pk__in=deferred).update(
            due_on=today + dt.timedelta(days=1),
            deferrals=F("deferrals") + 1,
            last_error=_("超出每日限额，顺延到次日"),
            updated_at=now,
        )
    if not claimed:
        return [], True
    lease = now + dt.timedelta(seconds=settings.PAYOUTS_LEASE_S)
    for r in claimed:
        r.attempt_count += 1
        r.status = Payout.Status.SENDING
        r.lease_until = lease
        r.updated_at = now
    with connection.cursor() as cursor:
        # One statement for the batch (bulk_update's CASE per row costs more than the sends).
        cursor.execute(
            "UPDATE payouts_payout SET status = 'sending', lease_until = %s, updated_at = %s,"
            " attempt_count = attempt_count + 1, counted_on = COALESCE(counted_on, %s),"
            " needs_query = needs_query OR status = 'sending' WHERE id = ANY(%s)",
            [lease, now, today, [r.pk for r in claimed]],
        )
    attempts = PayoutAttempt.objects.bulk_create(
        [
            PayoutAttempt(
                payout_id=r.pk,
                number=r.attempt_count,
                kind="query" if r.needs_query else "send",
                started_at=now,
            )
            for r in claimed
        ]
    )
    run.claimed += len(claimed)
    out = []
    for r, attempt in zip(claimed, attempts, strict=True):
        policy = policies.get(r.campaign_id)
        out.append(
            _Claimed(
                pk=r.pk,
                number=r.attempt_count,
                attempt_id=attempt.pk,
                bill_no=r.bill_no,
                amount_fen=r.amount_fen,
                external_userid=r.customer.external_userid,
                openid=r.openid,
                needs_query=r.needs_query,
                act_name=(policy and policy.act_name)
                or names.get(r.campaign_id, "")[:32]
                or "红包",
                wishing=(policy and policy.wishing) or "恭喜发财，大吉大利",
                sender_name=(policy and policy.sender_name) or "",
                remark=r.get_reason_display()[:32],
            )
        )
    return out, True


def _openids_fill(items: list[_Claimed]) -> None:
    """Every claimed entry's payment openid: kept ones in one read, new ones from WeCom."""
    missing = [c for c in items if not c.openid]
    if not missing:
        return
    known = payments.openids_known(list({c.external_userid for c in missing}))
    for c in missing:
        c.openid = known.get(c.external_userid, "")
        if c.openid:
            continue
        try:
            c.openid = payments.openid_for(c.external_userid)
            known[c.external_userid] = c.openid
        except WeComError as exc:
            if exc.retryable or isinstance(exc, WeComConfigError):
                # Busy, or WeCom's configuration (permission, IP): not the customer's fault.
                c.result = PaymentResult(
                    Outcome.RETRY, f"WECOM_{exc.errcode}", str(exc)[:200], 60.0
                )
            else:
                c.result = PaymentResult(Outcome.REJECTED, "NO_OPENID", str(exc)[:200])
        except Exception as exc:  # Redis, the network: this entry waits, the others go on
            logger.warning("payment openid not resolved", exc_info=True)
            c.result = PaymentResult(Outcome.RETRY, "OPENID_LOOKUP", type(exc).__name__, 60.0)


def _send(item: _Claimed) -> _Claimed:
    """One entry to the channel (a thread of the pool: HTTP only, no database)."""
    if item.result is not None:
        return item
    if item.needs_query:
        item.queried = payments.query(item.bill_no)
        if item.queried.outcome == Outcome.PAID or item.queried.outcome == Outcome.UNKNOWN:
            item.result = item.queried
            return item
        # NOT_FOUND or FAILED: the bill was never paid; sending it again is safe.
    item.result = payments.send(
        PayoutRequest(
            bill_no=item.bill_no,
            openid=item.openid,
            amount_fen=item.amount_fen,
            act_name=item.act_name,
            wishing=item.wishing,
            remark=item.remark,
            sender_name=item.sender_name,
        )
    )
    return item


_PAID_SQL = """
UPDATE payouts_payout AS p
SET status = 'paid', paid_at = %(now)s, closed_at = %(now)s, updated_at = %(now)s,
    lease_until = NULL, next_attempt_at = NULL, needs_query = false, last_error = '',
    channel = %(channel)s, channel_ref = v.ref, openid = v.openid
FROM unnest(%(ids)s::bigint[], %(numbers)s::int[], %(refs)s::varchar[], %(openids)s::varchar[])
    AS v(id, number, ref, openid)
WHERE p.id = v.id AND p.status = 'sending' AND p.attempt_count = v.number
RETURNING p.id
"""


def _record(items: list[_Claimed], *, now: dt.datetime, run: PayRun) -> None:
    """Write the outcomes of sends in one short transaction. A claim that was taken back
    meanwhile (its lease ran out) is not overwritten: the newer claim records its own."""
    if not items:
        return
    channel = payments.channel.name
    paid = [c for c in items if c.result.outcome == Outcome.PAID]
    others = [c for c in items if c.result.outcome != Outcome.PAID]
    with transaction.atomic():
        if paid:
            with connection.cursor() as cursor:
                cursor.execute(
                    _PAID_SQL,
                    {
                        "now": now,
                        "channel": channel,
                        "ids": [c.pk for c in paid],
                        "numbers": [c.number for c in paid],
                        "refs": [c.result.channel_ref[:64] for c in paid],
                        "openids": [c.openid[:64] for c in paid],
                    },
                )
                applied = {row[0] for row in cursor.fetchall()}
            PayoutAttempt.objects.filter(
                pk__in=[c.attempt_id for c in paid if c.pk in applied]
            ).update(outcome=PayoutAttempt.Outcome.PAID, finished_at=now)
            run.outcomes["paid"] += len(applied)
        for c in others:
            _record_one(c, now=now, channel=channel, run=run)


def _record_one(c: _Claimed, *, now: dt.datetime, channel: str, run: PayRun) -> None:
    r = c.result
    run.outcomes[str(r.outcome)] += 1
    error = f"{r.error_code}: {r.error_message}".strip(": ")[:255]
    mine = Payout.objects.filter(pk=c.pk, status=Payout.Status.SENDING, attempt_count=c.number)
    attempt_outcome = {
        Outcome.RETRY: PayoutAttempt.Outcome.FAILED,
        Outcome.NOT_FOUND: PayoutAttempt.Outcome.FAILED,
        Outcome.USER_LIMIT: PayoutAttempt.Outcome.DEFERRED,
        Outcome.REJECTED: PayoutAttempt.Outcome.REJECTED,
        Outcome.UNKNOWN: PayoutAttempt.Outcome.UNKNOWN,
    }[r.outcome]
    common = {"last_error": error, "lease_until": None, "updated_at": now, "channel": channel}
    if c.openid:
        common["openid"] = c.openid[:64]
    row = mine.values(
        "attempt_count", "counted_on", "customer_id", "campaign_id", "amount_fen"
    ).first()
    if row is None:
        return  # taken back by a newer claim meanwhile
    if r.outcome == Outcome.REJECTED or (
        r.outcome in (Outcome.RETRY, Outcome.NOT_FOUND)
        and c.number >= settings.PAYOUTS_MAX_ATTEMPTS
    ):
        # Proven unpaid and not worth sending again: give up, give the money back.
        mine.update(**common)
        if r.outcome == Outcome.REJECTED and r.error_code == "NO_OPENID":
            _close(
                [c.pk],
                status=Payout.Status.CANCELLED,
                cancel_reason=Payout.CancelReason.NO_OPENID,
                error=error,
                now=now,
            )
            run.cancelled[Payout.CancelReason.NO_OPENID] += 1
        else:
            _close([c.pk], status=Payout.Status.GIVEN_UP, error=error, now=now)
    elif r.outcome == Outcome.USER_LIMIT:
        # The customer's own daily limit at WeChat Pay: tomorrow, counted afresh.
        if row["counted_on"] is not None:
            _counters_release(
                row["counted_on"], row["customer_id"], row["campaign_id"], row["amount_fen"]
            )
        mine.update(
            **common,
            status=Payout.Status.SCHEDULED,
            due_on=local_today(now) + dt.timedelta(days=1),
            counted_on=None,
            needs_query=False,
            deferrals=F("deferrals") + 1,
        )
    else:
        # RETRY / NOT_FOUND: not paid, send again later. UNKNOWN: maybe paid, ask first.
        mine.update(
            **common,
            status=Payout.Status.FAILED,
            needs_query=r.outcome == Outcome.UNKNOWN,
            next_attempt_at=now + dt.timedelta(seconds=retry_delay(c.number, r.retry_after_s)),
        )
    PayoutAttempt.objects.filter(pk=c.attempt_id).update(
        outcome=attempt_outcome,
        error_code=r.error_code[:32],
        error_message=r.error_message[:255],
        finished_at=now,
    )


def payouts_pay_due(*, now: dt.datetime | None = None, run_s: float | None = None) -> dict:
    """The due-entry job: pay every due entry, until none is left or ``run_s`` is up.

    Claims batches (``PAYOUTS_BATCH``) while the previous ones are being sent by a pool
    of ``PAYOUTS_THREADS``, so the channel's rate is used fully; several workers may run
    this at once (each claims different rows). ``now`` fixes the clock (tests).
    """
    fixed = now
    run = PayRun()
    deadline = time.monotonic() + (settings.PAYOUTS_RUN_S if run_s is None else run_s)
    batch = max(1, settings.PAYOUTS_BATCH)
    threads = max(1, settings.PAYOUTS_THREADS)
    inflight: set[Future] = set()
    done_items: list[_Claimed] = []
    exhausted = False
    with ThreadPoolExecutor(max_workers=threads) as pool:
        while True:
            clock = fixed or timezone.now()
            # Claim again when the pool is about to run dry: a claimed entry waits in the
            # queue for a moment only (well within its lease), and the rate is never idle.
            if not exhausted and len(inflight) <= threads and time.monotonic() < deadline:
                items, found = _claim(now=clock, n=batch, run=run)
                exhausted = not found
                if items:
                    _openids_fill(items)
                    inflight |= {pool.submit(_send, item) for item in items}
                if found and len(inflight) <= threads:
                    continue  # a batch all cancelled or deferred: claim on
            if not inflight:
                if exhausted or time.monotonic() >= deadline:
                    break
                continue
            finished, inflight = wait(inflight, timeout=0.25, return_when=FIRST_COMPLETED)
            done_items.extend(f.result() for f in finished)
            if done_items and (len(done_items) >= batch // 2 or not inflight or exhausted):
                _record(done_items, now=fixed or timezone.now(), run=run)
                done_items = []
        _record(done_items, now=fixed or timezone.now(), run=run)
    report = run.as_dict()
    if run.claimed or run.cancelled or run.deferred:
        logger.info("payouts run", extra=report)
    return report
