"""The ranked outreach list of dormant bank customers (D12), in one set-based query.

A bank record is dormant when none of its customers is anyone's WeCom friend (no
active or half follow relation), and it is left out when one of them opted out of
marketing. Tiers, from the record's behaviour events (``bank_record`` set):

1. recently active (an active type within ``recent_days``) and claimed a benefit
   (a claim type within the horizon);
2. recently browsing (a browse type within ``recent_days``);
3. browsed earlier (within the horizon) and never claimed;
4. birthday today.

Within a tier: the most recent day first, then the higher AUM bracket, then the
latest time. One pass over the window's events (the ``(bank_record, type,
occurred_at)`` index), grouped per record, joined to the records and filtered by
``NOT EXISTS`` on the follow relations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from contacts.models import BankRecord, Customer, FollowRelation
from scrm.core.workdays import SHANGHAI
from tagging.behaviour.models import Event
from tagging.behaviour.types import COUPON_CLAIMED, MATERIAL_OPENED

from .models import LeadAssignment, LeadRank, Tier

DEFAULTS = {
    "LEADS_RECENT_DAYS": 7,
    "LEADS_HORIZON_DAYS": 90,
    "LEADS_ACTIVE_TYPES": ["app_login", "product_viewed", MATERIAL_OPENED],
    "LEADS_CLAIM_TYPES": [COUPON_CLAIMED, "benefit_claimed"],
    "LEADS_BROWSE_TYPES": ["product_viewed", MATERIAL_OPENED],
}
AUM_RANK = {
    BankRecord.AumBracket.ABOVE_6M: 4,
    BankRecord.AumBracket.K500_TO_6M: 3,
    BankRecord.AumBracket.K50_TO_500K: 2,
    BankRecord.AumBracket.BELOW_50K: 1,
}


def setting(name: str):
    return getattr(settings, name, DEFAULTS[name])


@dataclass(frozen=True)
class Lead:
    record_id: int
    branch_id: int | None
    tier: int
    last_at: datetime | None
    aum_bracket: str

    @property
    def tier_label(self) -> str:
        return Tier(self.tier).label


_SQL = """
WITH ev AS (
    SELECT e.bank_record_id AS rid,
           max(e.occurred_at) FILTER (WHERE e.type = ANY(%(active)s)
                                        AND e.occurred_at >= %(recent)s) AS active_at,
           max(e.occurred_at) FILTER (WHERE e.type = ANY(%(claim)s)) AS claimed_at,
           max(e.occurred_at) FILTER (WHERE e.type = ANY(%(browse)s)) AS browsed_at
      FROM {event} e
     WHERE e.bank_record_id IS NOT NULL
       AND e.type = ANY(%(types)s)
       AND e.occurred_at >= %(horizon)s AND e.occurred_at <= %(now)s
     GROUP BY e.bank_record_id
), ids AS (
    SELECT rid AS id FROM ev
    UNION
    SELECT r.id FROM {record} r
     WHERE r.birthday IS NOT NULL
       AND EXTRACT(MONTH FROM r.birthday) = %(month)s AND EXTRACT(DAY FROM r.birthday) = %(day)s
), ranked AS (
    SELECT r.id, r.branch_id, r.aum_bracket,
           CASE
             WHEN ev.active_at IS NOT NULL AND ev.claimed_at IS NOT NULL THEN 1
             WHEN ev.browsed_at >= %(recent)s THEN 2
             WHEN ev.browsed_at IS NOT NULL AND ev.claimed_at IS NULL THEN 3
             WHEN EXTRACT(MONTH FROM r.birthday) = %(month)s
              AND EXTRACT(DAY FROM r.birthday) = %(day)s THEN 4
           END AS tier,
           CASE
             WHEN ev.active_at IS NOT NULL AND ev.claimed_at IS NOT NULL
               THEN greatest(ev.active_at, ev.claimed_at)
             ELSE ev.browsed_at
           END AS last_at
      FROM ids
      JOIN {record} r ON r.id = ids.id
      LEFT JOIN ev ON ev.rid = r.id
     WHERE NOT EXISTS (
             SELECT 1 FROM {customer} c
              WHERE c.bank_record_id = r.id
                AND (c.marketing_opt_out OR EXISTS (
                       SELECT 1 FROM {follow} f
                        WHERE f.customer_id = c.id AND f.status = ANY(%(friend_statuses)s))))
)
{select}
"""

_SELECT = """
SELECT id, branch_id, tier, last_at, aum_bracket
  FROM ranked
 WHERE tier IS NOT NULL {filters}
 ORDER BY {order}
 {limit}
"""

_ORDER = """tier,
          (last_at AT TIME ZONE 'Asia/Shanghai')::date DESC NULLS LAST,
          CASE aum_bracket {aum_cases} ELSE 0 END DESC,
          last_at DESC NULLS LAST,
          id"""

# The snapshot the ranking page reads: the whole list, numbered, in one statement.
_SNAPSHOT = """
INSERT INTO {rank} (bank_record_id, branch_id, tier, last_at, position, computed_at)
SELECT id, branch_id, tier, last_at, row_number() OVER (ORDER BY {order}), %(now)s
  FROM ranked
 WHERE tier IS NOT NULL
"""


def week_key(day: date) -> str:
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


def _params(now: datetime, today: date) -> dict:
    active, claim, browse = (
        list(setting("LEADS_ACTIVE_TYPES")),
        list(setting("LEADS_CLAIM_TYPES")),
        list(setting("LEADS_BROWSE_TYPES")),
    )
    return {
        "active": active,
        "claim": claim,
        "browse": browse,
        "types": sorted(set(active) | set(claim) | set(browse)),
        "now": now,
        "recent": now - timedelta(days=setting("LEADS_RECENT_DAYS")),
        "horizon": now - timedelta(days=setting("LEADS_HORIZON_DAYS")),
        "month": today.month,
        "day": today.day,
        "friend_statuses": [FollowRelation.Status.ACTIVE, FollowRelation.Status.HALF],
    }


def _sql(select: str) -> str:
    aum_cases = " ".join(f"WHEN '{code}' THEN {rank}" for code, rank in AUM_RANK.items())
    return _SQL.format(
        event=Event._meta.db_table,
        record=BankRecord._meta.db_table,
        customer=Customer._meta.db_table,
        follow=FollowRelation._meta.db_table,
        select=select.replace("{order}", _ORDER.format(aum_cases=aum_cases)),
    )


def ranking_snapshot_sql() -> str:
    """The statement that writes the whole ranked list into ``LeadRank`` (params from
    ``ranking_params``)."""
    return _sql(_SNAPSHOT.format(rank=LeadRank._meta.db_table, order="{order}"))


def ranking_params(*, now: datetime, today: date) -> dict:
    return _params(now, today)


def leads_ranked(
    *,
    today: date | None = None,
    now: datetime | None = None,
    branch_id: int | None = None,
    tier: int | None = None,
    unassigned_week: str | None = None,
    limit: int | None = None,
) -> list[Lead]:
    """Dormant bank records in outreach order (see the module). ``unassigned_week``
    leaves out records already handed out that week."""
    now = now or timezone.now()
    today = today or now.astimezone(SHANGHAI).date()
    params = _params(now, today)
    filters = []
    if branch_id is not None:
        filters.append("AND branch_id = %(branch)s")
        params["branch"] = branch_id
    if tier is not None:
        filters.append("AND tier = %(tier)s")
        params["tier"] = tier
    if unassigned_week is not None:
        filters.append(
            "AND NOT EXISTS (SELECT 1 FROM {assignment} a "
            "WHERE a.bank_record_id = ranked.id AND a.week = %(week)s)"
        )
        params["week"] = unassigned_week
    if limit:
        params["limit"] = limit
    select = _SELECT.format(
        filters=" ".join(filters).format(assignment=LeadAssignment._meta.db_table),
        order="{order}",
        limit="LIMIT %(limit)s" if limit else "",
    )
    sql = _sql(select)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [Lead(*row[:4], aum_bracket=row[4]) for row in cursor.fetchall()]


def snapshot_leads(*, unassigned_week: str | None = None) -> list[Lead]:
    """The last computed list (``LeadRank``) in order, without those handed out in
    ``unassigned_week``."""
    rows = LeadRank.objects.order_by("position")
    if unassigned_week is not None:
        handed = LeadAssignment.objects.filter(week=unassigned_week).values("bank_record_id")
        rows = rows.exclude(bank_record_id__in=handed)
    return [
        Lead(record_id=r[0], branch_id=r[1], tier=r[2], last_at=r[3], aum_bracket=r[4])
        for r in rows.values_list(
            "bank_record_id", "branch_id", "tier", "last_at", "bank_record__aum_bracket"
        ).iterator(chunk_size=5000)
    ]


def snapshot_page(*, tier: int | None = None, branch_id: int | None = None):
    """The ranking page's rows (records and their branches joined)."""
    rows = LeadRank.objects.select_related("bank_record__branch").order_by("position")
    if tier is not None:
        rows = rows.filter(tier=tier)
    if branch_id is not None:
        rows = rows.filter(branch_id=branch_id)
    return rows
