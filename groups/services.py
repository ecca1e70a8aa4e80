"""Business actions of the groups app: region loading, routing decisions with
gatekeeping (D3, D4), the personal join links that carry a customer, and the
daily health run (D6)."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from django.db import connection, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from contacts.links import join_token_read
from contacts.models import ChannelCode, Customer, FollowRelation, Staff
from scrm.core.errors import DomainError

from .models import GroupDayStat, Region, RoutingDecision
from .routing import PoolInfo, RegionNode, Route, routing_index, routing_index_invalidate

REGIONS_CSV = Path(__file__).resolve().parent / "data" / "regions.csv"
_LEVEL_ORDER = {Region.Level.PROVINCE: 0, Region.Level.CITY: 1, Region.Level.DISTRICT: 2}


# --------------------------------------------------------------------------- regions


@dataclass(frozen=True)
class RegionRow:
    code: str
    name: str
    level: str
    parent_code: str
    lat: float | None
    lng: float | None


def region_rows_from_csv(path: Path = REGIONS_CSV) -> list[RegionRow]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            RegionRow(
                code=r["code"].strip(),
                name=r["name"].strip(),
                level=r["level"].strip(),
                parent_code=(r.get("parent_code") or "").strip(),
                lat=float(r["lat"]) if r.get("lat") else None,
                lng=float(r["lng"]) if r.get("lng") else None,
            )
            for r in csv.DictReader(fh)
        ]


@transaction.atomic
def regions_load(*, rows: Iterable[RegionRow], update: bool = False) -> dict[str, int]:
    """Create missing regions; with ``update``, also overwrite changed ones.

    Idempotent. Without ``update`` an existing region is left alone, so edits
    made in the admin (a moved centre, a region switched off) survive a reload.
    """
    rows = sorted(rows, key=lambda r: (_LEVEL_ORDER.get(r.level, 9), r.code))
    valid_levels = set(Region.Level.values)
    codes = [r.code for r in rows]
    if len(codes) != len(set(codes)):
        raise DomainError("region_duplicate", _("地区编码重复"))
    existing = {r.code: r for r in Region.objects.all()}
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for row in rows:
        if row.level not in valid_levels:
            raise DomainError("region_level", _("地区级别无效：%(code)s") % {"code": row.code})
        parent = existing.get(row.parent_code) if row.parent_code else None
        if row.parent_code and parent is None:
            raise DomainError("region_parent", _("上级地区不存在：%(code)s") % {"code": row.code})
        fields = {
            "name": row.name,
            "level": row.level,
            "parent_id": parent.id if parent else None,
            "latitude": row.lat,
            "longitude": row.lng,
        }
        region = existing.get(row.code)
        if region is None:
            existing[row.code] = Region.objects.create(code=row.code, **fields)
            counts["created"] += 1
        elif update and any(getattr(region, k) != v for k, v in fields.items()):
            for key, value in fields.items():
                setattr(region, key, value)
            region.save()
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    routing_index_invalidate()
    return counts


# --------------------------------------------------------------------------- join links


# --------------------------------------------------------------------------- routing


@dataclass(frozen=True)
class ManagerCode:
    qr_code: str
    staff_name: str


@dataclass(frozen=True)
class JoinDecision:
    decision_id: int
    source: str
    fallback: str
    visitor: str
    outcome: str
    pool: PoolInfo | None
    matched_region: RegionNode | None
    pool_region: RegionNode | None
    distance_km: float | None
    manager_code: ManagerCode | None
    message: str


def _round2(value: float | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _visitor(token: str | None) -> tuple[str, Customer | None]:
    if not token:
        return RoutingDecision.Visitor.ANONYMOUS, None
    external_userid = join_token_read(token=token)
    if external_userid is None:
        return RoutingDecision.Visitor.ANONYMOUS, None
    customer = (
        Customer.objects.filter(external_userid=external_userid)
        .only("id", "verified_at", "external_userid")
        .first()
    )
    if customer is None:
        return RoutingDecision.Visitor.UNKNOWN, None
    if customer.verified_at is None:
        return RoutingDecision.Visitor.UNVERIFIED, customer
    return RoutingDecision.Visitor.VERIFIED, customer


def _manager_code(customer: Customer | None, pool: PoolInfo) -> ManagerCode | None:
    """The channel code of the customer's own manager, else of the pool's owner."""
    staff_ids: list[int] = []
    if customer is not None:
        staff_ids = list(
            FollowRelation.objects.filter(
                customer=customer,
                status=FollowRelation.Status.ACTIVE,
                staff__status=Staff.Status.ACTIVE,
            )
            .order_by("-added_at", "-id")
            .values_list("staff_id", flat=True)
        )
    if pool.owner_id is not None and pool.owner_id not in staff_ids:
        staff_ids.append(pool.owner_id)
    if not staff_ids:
        return None
    codes = (
        ChannelCode.objects.filter(is_active=True, staff__in=staff_ids)
        .exclude(qr_code="")
        .values_list("staff__id", "staff__name", "qr_code")
        .order_by("-created_at")
    )
    by_staff: dict[int, tuple[str, str]] = {}
    for staff_id, staff_name, qr_code in codes:
        by_staff.setdefault(staff_id, (staff_name, qr_code))
    for staff_id in staff_ids:
        if staff_id in by_staff:
            name, qr = by_staff[staff_id]
            return ManagerCode(qr_code=qr, staff_name=name)
    return None


def _gate(route: Route, visitor: str, customer: Customer | None):
    """D4: verified-only pools show their QR code to verified customers only."""
    pool = route.pool
    if pool is None:
        return RoutingDecision.Outcome.NO_POOL, None, _("当前地区暂无可加入的福利群，请稍后再试。")
    if not pool.verified_only or visitor == RoutingDecision.Visitor.VERIFIED:
        return RoutingDecision.Outcome.GROUP, None, _("长按识别二维码，加入本地福利群。")
    code = _manager_code(customer, pool)
    if code is not None:
        return (
            RoutingDecision.Outcome.MANAGER_CODE,
            code,
            _("该群仅限本行认证客户加入。请先添加客户经理的企业微信完成认证，再进群。"),
        )
    return (
        RoutingDecision.Outcome.MESSAGE,
        None,
        _("该群仅限本行认证客户加入。请联系您的客户经理或到附近网点完成认证。"),
    )


@transaction.atomic
def routing_decide(
    *,
    lat: float | None = None,
    lng: float | None = None,
    region_code: str | None = None,
    token: str | None = None,
) -> JoinDecision:
    """Route a visitor to their local pool, apply the gate, record the decision.

    Give a point (``lat``/``lng``, from the browser's location) or a
    ``region_code`` (from the city picker when location was refused).
    """
    index = routing_index()
    if region_code:
        source = RoutingDecision.Source.PICKER
        region = index.by_code.get(region_code)
        if region is None:
            raise DomainError("region_unknown", _("未知地区：%(code)s") % {"code": region_code})
        route = index.route_region(region)
    elif lat is not None and lng is not None:
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise DomainError("location_invalid", _("位置坐标无效"))
        source = RoutingDecision.Source.GEOLOCATION
        route = index.route_point(lat, lng)
    else:
        raise DomainError("location_required", _("请提供位置或选择城市"))

    visitor, customer = _visitor(token)
    outcome, manager_code, message = _gate(route, visitor, customer)
    # An analytics row: losing the last few on a database crash is acceptable,
    # waiting for the WAL flush on every page view is not.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
    decision = RoutingDecision.objects.create(
        source=source,
        latitude=_round2(lat) if source == RoutingDecision.Source.GEOLOCATION else None,
        longitude=_round2(lng) if source == RoutingDecision.Source.GEOLOCATION else None,
        requested_region_id=route.matched_region.id
        if source == RoutingDecision.Source.PICKER and route.matched_region
        else None,
        matched_region_id=route.matched_region.id if route.matched_region else None,
        distance_km=round(route.distance_km, 1) if route.distance_km is not None else None,
        pool_region_id=route.pool_region.id if route.pool_region else None,
        pool_id=route.pool.id if route.pool else None,
        fallback=route.fallback,
        visitor=visitor,
        customer=customer,
        outcome=outcome,
    )
    return JoinDecision(
        decision_id=decision.id,
        source=source,
        fallback=route.fallback,
        visitor=visitor,
        outcome=outcome,
        pool=route.pool,
        matched_region=route.matched_region,
        pool_region=route.pool_region,
        distance_km=decision.distance_km,
        manager_code=manager_code,
        message=message,
    )


# --------------------------------------------------------------------------- health (D6)

# How many missed days a daily health run makes up for (WeCom keeps the statistics).
HEALTH_CATCH_UP_DAYS = 7


def group_health_daily(*, day: dt.date) -> dict[str, int]:
    """The daily health run for ``day`` (yesterday): the day's figures per group, the
    figures of days since the last run that have none (a run that failed for good, at
    most ``HEALTH_CATCH_UP_DAYS``), then health and rescue tasks.

    Safe to repeat: figures are upserted per group and day, tasks deduplicated.
    """
    from .health import group_day_stats_compute, groups_health_update

    last = GroupDayStat.objects.filter(day__lt=day).aggregate(last=Max("day"))["last"]
    if last is not None:
        missed = max(last + dt.timedelta(days=1), day - dt.timedelta(days=HEALTH_CATCH_UP_DAYS))
        while missed < day:
            group_day_stats_compute(day=missed)
            missed += dt.timedelta(days=1)
    group_day_stats_compute(day=day)
    return groups_health_update(day=day)
