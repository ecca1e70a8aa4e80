"""Claiming coupons: by a customer's personal link or issued by the bank's systems (D4, D7).

A claim is one transaction that can never overdraw stock or budget, nor pass a
limit, under any concurrency. It is one SQL statement (plus BEGIN and COMMIT):

1. one guarded upsert per limit (per customer of the campaign, per customer and
   per phone of the template): ``n = n + 1 WHERE n < cap``, keys in sorted order;
2. the template's stock and day stock: ``stock_remaining - 1 WHERE stock_remaining > 0``
   (and the day's count under the daily stock), only while the campaign is live;
3. the campaign's budget, when it has one: ``committed + cost WHERE committed + cost
   <= budget``;
4. the coupons themselves (one per instalment), and the customer's first contact.

Each step runs only if the one before it changed its rows; if any step changed
nothing, the transaction is rolled back and the refusal (with its code) is
recorded. Hot rows (stock, budget) are locked last and only for the statement and
its commit. Check constraints back every guard.

A campaign's configuration is frozen once it leaves the draft status, so it is
cached per process for a few seconds; status, stock, budget and counters are
always read under the statement's row locks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import BankRecord, Customer
from groups.models import CustomerGroup, GroupMember, GroupPool, Region
from scrm.core.errors import DomainError

from .. import codes
from ..models import (
    Blacklist,
    Campaign,
    CampaignContact,
    CampaignVariant,
    ClaimCounter,
    ClaimRefusal,
    Coupon,
    CouponTemplate,
)
from ..sql import Statement
from ..velocity import velocity_count

SHANGHAI = ZoneInfo("Asia/Shanghai")
CONFIG_TTL_S = 10.0
# The configuration of these statuses no longer changes (see lifecycle).
FROZEN_STATUSES = frozenset(
    {Campaign.Status.APPROVED, Campaign.Status.LIVE, Campaign.Status.PAUSED}
)


class ClaimRefused(DomainError):
    """A claim said no: ``code`` is one of ``ClaimRefusal.Code``, ``reason`` says why."""

    def __init__(self, code: str, message: str, *, status: int, reason: str = "", data=None):
        super().__init__(code, message, status=status, data=data)
        self.reason = reason or code

    @classmethod
    def of(cls, messages: dict[str, tuple[str, int]], code: str, reason: str = ""):
        """The refusal ``code`` (for ``reason``) with its message and status from
        ``messages``, keyed ``"code:reason"`` where a reason has its own, else ``"code"``."""
        message, status = messages.get(f"{code}:{reason}") or messages[code]
        data = {"reason": reason} if reason else None
        return cls(code, message, status=status, reason=reason, data=data)


def _refused(code: str, reason: str = "") -> ClaimRefused:
    messages = {
        "out_of_stock": (_("优惠券已领完"), 409),
        "out_of_stock:daily": (_("今日优惠券已领完，请明天再来"), 409),
        "out_of_stock:budget": (_("活动预算已用完"), 409),
        "limit_reached": (_("您已达到本活动的领取上限"), 409),
        "not_eligible": (_("您暂不符合本活动的领取条件"), 403),
        "not_eligible:unverified": (_("本活动仅限本行认证客户领取"), 403),
        "not_eligible:audience": (_("本活动仅限指定客户群或地区的客户参加"), 403),
        "not_eligible:no_phone": (_("请先完成手机号认证后再领取"), 403),
        "not_eligible:template": (_("该优惠券不在您的可领范围内"), 403),
        "not_eligible:validity_over": (_("该优惠券已过有效期"), 403),
        "campaign_not_live": (_("活动未开始或已结束"), 409),
        "link_invalid": (_("链接无效"), 403),
        "blocked": (_("领取受限，如有疑问请联系您的客户经理"), 403),
        "blocked:velocity_ip": (_("操作过于频繁，请稍后再试"), 429),
        "blocked:velocity_phone": (_("操作过于频繁，请稍后再试"), 429),
    }
    return ClaimRefused.of(messages, code, reason)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class TemplateConfig:
    id: int
    kind: str
    instalments: int
    interval_days: int
    validity: str
    valid_from_date: date | None
    valid_until_date: date | None
    valid_days: int | None
    per_customer_limit: int | None
    per_phone_limit: int | None
    cost_cap_fen: int


@dataclass(frozen=True)
class VariantConfig:
    id: int
    key: str
    weight: int
    template_id: int | None


@dataclass(frozen=True)
class CampaignConfig:
    id: int
    status: str
    starts_at: datetime
    ends_at: datetime
    verified_only: bool
    per_customer_limit: int | None
    velocity_ip_per_hour: int | None
    velocity_phone_per_hour: int | None
    has_budget: bool
    templates: dict[int, TemplateConfig]
    variants: tuple[VariantConfig, ...]
    group_ids: tuple[int, ...]
    pool_ids: tuple[int, ...]
    region_ids: tuple[int, ...]  # the audience regions and every region below them
    kind: str = Campaign.Kind.COUPON
    loaded_at: float = field(default_factory=time.monotonic, compare=False)

    @property
    def has_audience(self) -> bool:
        return bool(self.group_ids or self.pool_ids or self.region_ids)

    def is_open(self, now: datetime) -> bool:
        return self.status == Campaign.Status.LIVE and self.starts_at <= now < self.ends_at


_CONFIGS: dict[int, CampaignConfig] = {}


def regions_with_descendants(region_ids) -> set[int]:
    found = set(region_ids)
    frontier = set(found)
    while frontier:
        frontier = (
            set(Region.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)) - found
        )
        found |= frontier
    return found


def _config_load(campaign_id: int) -> CampaignConfig | None:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return None
    templates = {
        t.pk: TemplateConfig(
            id=t.pk,
            kind=t.kind,
            instalments=t.instalments,
            interval_days=t.instalment_interval_days,
            validity=t.validity,
            valid_from_date=t.valid_from_date,
            valid_until_date=t.valid_until_date,
            valid_days=t.valid_days,
            per_customer_limit=t.per_customer_limit,
            per_phone_limit=t.per_phone_limit,
            cost_cap_fen=t.cost_cap_fen,
        )
        for t in CouponTemplate.objects.filter(campaign_id=campaign_id).order_by("pk")
    }
    variants = tuple(
        VariantConfig(id=v.pk, key=v.key, weight=v.weight, template_id=v.template_id)
        for v in CampaignVariant.objects.filter(campaign_id=campaign_id).order_by("key", "pk")
    )
    regions = campaign.audience_regions.values_list("pk", flat=True)
    return CampaignConfig(
        id=campaign.pk,
        status=campaign.status,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        verified_only=campaign.verified_only,
        per_customer_limit=campaign.per_customer_limit,
        velocity_ip_per_hour=campaign.velocity_ip_per_hour,
        velocity_phone_per_hour=campaign.velocity_phone_per_hour,
        has_budget=campaign.budget_fen is not None,
        templates=templates,
        variants=variants,
        group_ids=tuple(campaign.audience_groups.values_list("pk", flat=True)),
        pool_ids=tuple(campaign.audience_pools.values_list("pk", flat=True)),
        region_ids=tuple(sorted(regions_with_descendants(regions))),
        kind=campaign.kind,
    )


def campaign_config(campaign_id: int, *, fresh: bool = False) -> CampaignConfig | None:
    cached = None if fresh else _CONFIGS.get(campaign_id)
    if cached is not None and time.monotonic() - cached.loaded_at < CONFIG_TTL_S:
        return cached
    config = _config_load(campaign_id)
    if config is not None and config.status in FROZEN_STATUSES:
        _CONFIGS[campaign_id] = config
    else:
        _CONFIGS.pop(campaign_id, None)
    return config


def campaign_config_forget(campaign_id: int | None = None) -> None:
    """Drop cached configurations (after a status change in this process, and in tests)."""
    if campaign_id is None:
        _CONFIGS.clear()
    else:
        _CONFIGS.pop(campaign_id, None)


def variant_for(config: CampaignConfig, customer_id: int) -> VariantConfig | None:
    """The customer's A/B variant: the same every time for the same campaign (D13)."""
    if not config.variants:
        return None
    total = sum(v.weight for v in config.variants)
    digest = hashlib.sha256(f"campaign-variant:{config.id}:{customer_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % total
    for variant in config.variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    return config.variants[-1]


def templates_for(config: CampaignConfig, variant: VariantConfig | None) -> list[int]:
    """The templates a customer of ``variant`` may claim."""
    if variant is not None and variant.template_id is not None:
        return [variant.template_id]
    return list(config.templates)


# --------------------------------------------------------------------------- the customer


@dataclass(frozen=True)
class CustomerFacts:
    id: int
    status: str
    verified: bool
    phone_hash: str
    blocked: bool
    in_audience: bool


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@functools.cache
def _facts_statement() -> Statement:
    return Statement("campaigns_customer_facts", _facts_sql())


@functools.cache
def _claim_statement() -> Statement:
    return Statement("campaigns_claim", _claim_sql())


def _facts_sql() -> str:
    # Table names come from the models' metadata, quoted; every value is a parameter.
    return f"""
SELECT cu.id, cu.status, cu.verified_at IS NOT NULL, COALESCE(br.phone_hash, ''),
    EXISTS (
        SELECT 1 FROM {_t(Blacklist)} b
        WHERE b.is_active AND (
            (b.kind = 'customer' AND b.customer_id = cu.id)
            OR (b.kind = 'phone' AND br.phone_hash <> '' AND b.phone_hash = br.phone_hash)
        )
    ),
    NOT %(has_audience)s OR EXISTS (
        SELECT 1 FROM {_t(GroupMember)} m
        JOIN {_t(CustomerGroup)} g ON g.id = m.group_id
        LEFT JOIN {_t(GroupPool)} p ON p.id = g.pool_id
        WHERE m.customer_id = cu.id AND m.is_active AND g.status = 'normal'
          AND (g.id = ANY(%(groups)s) OR g.pool_id = ANY(%(pools)s)
               OR g.region_id = ANY(%(regions)s) OR p.region_id = ANY(%(regions)s))
    )
FROM {_t(Customer)} cu
LEFT JOIN {_t(BankRecord)} br ON br.id = cu.bank_record_id
WHERE cu.id = %(customer)s
"""  # noqa: S608


def customer_facts(*, customer_id: int, config: CampaignConfig | None) -> CustomerFacts | None:
    """One query: what the claim rules need to know about the customer."""
    params = {
        "customer": customer_id,
        "has_audience": bool(config and config.has_audience),
        "groups": list(config.group_ids) if config else [],
        "pools": list(config.pool_ids) if config else [],
        "regions": list(config.region_ids) if config else [],
    }
    with connection.cursor() as cursor:
        _facts_statement().execute(cursor, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return CustomerFacts(*row)


# --------------------------------------------------------------------------- validity


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


def coupon_validity(
    template: TemplateConfig, now: datetime
) -> list[tuple[int, datetime, datetime]]:
    """(instalment number, valid from, valid until) of each coupon a claim at ``now``
    creates. Days are Asia/Shanghai days; "N days from claim" counts the claim day."""
    today = now.astimezone(SHANGHAI).date()
    out = []
    for i in range(template.instalments):
        start_day = today + timedelta(days=i * template.interval_days)
        valid_from = now if i == 0 else _local_midnight(start_day)
        if template.validity == CouponTemplate.Validity.FIXED:
            if template.valid_from_date is not None:
                valid_from = max(valid_from, _local_midnight(template.valid_from_date))
            valid_until = _local_midnight(template.valid_until_date + timedelta(days=1))
        else:
            valid_until = _local_midnight(start_day + timedelta(days=template.valid_days or 1))
        out.append((i + 1, valid_from, valid_until))
    return out


# --------------------------------------------------------------------------- the claim


@dataclass
class ClaimResult:
    claim_ref: uuid.UUID
    campaign_id: int
    template_id: int
    customer_id: int
    variant_id: int | None
    coupons: list[Coupon]


def _claim_sql() -> str:
    counter, template, campaign = _t(ClaimCounter), _t(CouponTemplate), _t(Campaign)
    coupon, contact = _t(Coupon), _t(CampaignContact)
    # Table names come from the models' metadata, quoted; every value is a parameter.
    return f"""
WITH lim AS (
    INSERT INTO {counter} AS cc (key, n, cap)
    SELECT u.key, 1, u.cap FROM unnest(%(keys)s::varchar[], %(caps)s::integer[]) AS u(key, cap)
    ORDER BY u.key
    ON CONFLICT (key) DO UPDATE SET n = cc.n + 1, cap = EXCLUDED.cap
    WHERE cc.n < EXCLUDED.cap
    RETURNING cc.key
), stock AS (
    UPDATE {template} AS t
    SET stock_remaining = t.stock_remaining - 1,
        day_claimed = CASE WHEN t.claim_day = %(today)s THEN t.day_claimed + 1 ELSE 1 END,
        claim_day = %(today)s
    WHERE t.id = %(template)s AND t.campaign_id = %(campaign)s
      AND (SELECT count(*) FROM lim) = %(nkeys)s
      AND t.stock_remaining > 0
      AND (t.daily_stock IS NULL OR t.claim_day IS DISTINCT FROM %(today)s
           OR t.day_claimed < t.daily_stock)
      AND EXISTS (
          SELECT 1 FROM {campaign} AS c WHERE c.id = %(campaign)s AND c.status = 'live'
          AND c.starts_at <= %(now)s AND c.ends_at > %(now)s)
    RETURNING t.id
), budget AS (
    UPDATE {campaign} AS c
    SET budget_committed_fen = c.budget_committed_fen + %(cost)s
    WHERE c.id = %(campaign)s AND %(has_budget)s AND EXISTS (SELECT 1 FROM stock)
      AND c.budget_fen IS NOT NULL AND c.budget_committed_fen + %(cost)s <= c.budget_fen
    RETURNING c.id
), ins AS (
    INSERT INTO {coupon} (code, campaign_id, template_id, variant_id, customer_id, phone_hash,
        claim_ref, instalment_no, source, status, reserved_fen, valid_from, valid_until,
        claimed_at)
    SELECT u.code, %(campaign)s, %(template)s, %(variant)s, %(customer)s, %(phone_hash)s,
        %(claim_ref)s::uuid, u.no, %(source)s, 'claimed', %(reserved)s, u.vf, u.vu, %(now)s
    FROM unnest(%(codes)s::varchar[], %(nos)s::smallint[], %(vfs)s::timestamptz[],
                %(vus)s::timestamptz[]) AS u(code, no, vf, vu)
    WHERE EXISTS (SELECT 1 FROM stock) AND (NOT %(has_budget)s OR EXISTS (SELECT 1 FROM budget))
    RETURNING id, code
), contact AS (
    INSERT INTO {contact} (campaign_id, customer_id, variant_id, first_contact_at)
    SELECT %(campaign)s, %(customer)s, %(variant)s, %(now)s
    WHERE %(record_contact)s AND EXISTS (SELECT 1 FROM ins)
    ON CONFLICT (campaign_id, customer_id) DO NOTHING
    RETURNING 1
)
SELECT campaigns_claim_verdict(
        (SELECT count(*) FROM lim) = %(nkeys)s,
        EXISTS (SELECT 1 FROM stock),
        NOT %(has_budget)s OR EXISTS (SELECT 1 FROM budget)
    ),
    (SELECT json_object_agg(code, id) FROM ins), (SELECT count(*) FROM contact)
"""  # noqa: S608


def _limit_keys(
    config: CampaignConfig, template: TemplateConfig, facts: CustomerFacts
) -> list[tuple[str, int]]:
    keys = []
    if config.per_customer_limit:
        keys.append((f"c{config.id}:u{facts.id}", config.per_customer_limit))
    if template.per_customer_limit:
        keys.append((f"t{template.id}:u{facts.id}", template.per_customer_limit))
    if template.per_phone_limit:
        keys.append((f"t{template.id}:p{facts.phone_hash}", template.per_phone_limit))
    return sorted(keys)


def _why_no_stock(*, campaign_id: int, template_id: int, now: datetime) -> ClaimRefused:
    """Only on a refusal: which guard of the claim statement said no."""
    row = (
        CouponTemplate.objects.filter(pk=template_id)
        .values("stock_remaining", "campaign__status", "campaign__starts_at", "campaign__ends_at")
        .first()
    )
    if row is None or not (
        row["campaign__status"] == Campaign.Status.LIVE
        and row["campaign__starts_at"] <= now < row["campaign__ends_at"]
    ):
        campaign_config_forget(campaign_id)
        return _refused("campaign_not_live")
    if row["stock_remaining"] > 0:
        return _refused("out_of_stock", "daily")
    return _refused("out_of_stock")


def _claim_execute(params: dict) -> dict[str, int]:
    """Run the claim statement; the coupons' ids by code. Outside a transaction it is a
    transaction of its own (one round trip); inside one, it gets a savepoint, so a
    refusal leaves the caller's transaction usable."""
    atomic = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with atomic, connection.cursor() as cursor:
        _claim_statement().execute(cursor, params)
        _ok, ids, _contact = cursor.fetchone()
    return ids or {}


def _verdict_of(exc: DatabaseError) -> str | None:
    """The refusal code ``campaigns_claim_verdict`` raised, if it was that."""
    cause = exc.__cause__
    if getattr(cause, "pgcode", None) != "P0001":
        return None
    return getattr(getattr(cause, "diag", None), "message_primary", None)


def _claim_write(
    *,
    config: CampaignConfig,
    template: TemplateConfig,
    facts: CustomerFacts,
    variant: VariantConfig | None,
    source: str,
    now: datetime,
    reserved_fen: int | None = None,
) -> ClaimResult:
    if reserved_fen is None:
        reserved_fen = template.cost_cap_fen if config.has_budget else 0
    validity = coupon_validity(template, now)
    if any(until <= max(start, now) for _no, start, until in validity):
        raise _refused("not_eligible", "validity_over")
    keys = _limit_keys(config, template, facts)
    claim_ref = uuid.uuid4()
    today = now.astimezone(SHANGHAI).date()
    for attempt in range(3):
        new_codes = [codes.code_new() for _ in validity]
        params = {
            "keys": [k for k, _cap in keys],
            "caps": [cap for _k, cap in keys],
            "nkeys": len(keys),
            "today": today,
            "template": template.id,
            "campaign": config.id,
            "now": now,
            "has_budget": config.has_budget,
            "cost": template.cost_cap_fen * template.instalments,
            "variant": variant.id if variant else None,
            # The first contact records an A/B variant; without variants the page's
            # visit records it (the funnel's "link opened"), not every claim.
            "record_contact": variant is not None,
            "customer": facts.id,
            "phone_hash": facts.phone_hash,
            "claim_ref": str(claim_ref),
            "source": source,
            "reserved": reserved_fen,
            "codes": new_codes,
            "nos": [no for no, _s, _u in validity],
            "vfs": [start for _no, start, _u in validity],
            "vus": [until for _no, _s, until in validity],
        }
        try:
            ids = _claim_execute(params)
        except IntegrityError:
            # A new code equal to an existing one (about 1 in 2**75): draw again.
            if attempt == 2:
                raise
            continue
        except DatabaseError as exc:
            verdict = _verdict_of(exc)
            if verdict == "limit_reached":
                raise _refused("limit_reached") from None
            if verdict == "out_of_stock":
                raise _why_no_stock(
                    campaign_id=config.id, template_id=template.id, now=now
                ) from None
            if verdict == "budget":
                raise _refused("out_of_stock", "budget") from None
            raise
        coupons = [
            Coupon(
                id=ids[code],
                code=code,
                campaign_id=config.id,
                template_id=template.id,
                variant_id=variant.id if variant else None,
                customer_id=facts.id,
                phone_hash=facts.phone_hash,
                claim_ref=claim_ref,
                instalment_no=no,
                source=source,
                status=Coupon.Status.CLAIMED,
                reserved_fen=reserved_fen,
                valid_from=start,
                valid_until=until,
                claimed_at=now,
            )
            for code, (no, start, until) in zip(new_codes, validity, strict=True)
        ]
        return ClaimResult(
            claim_ref=claim_ref,
            campaign_id=config.id,
            template_id=template.id,
            customer_id=facts.id,
            variant_id=variant.id if variant else None,
            coupons=coupons,
        )
    raise AssertionError("unreachable")


def customer_gate(*, config: CampaignConfig, facts: CustomerFacts | None, by_link: bool) -> None:
    """The campaign's gates for one customer (D4), for claims and the lottery's draws alike:
    known and not erased, not blacklisted, verified when the campaign is verified-only, in
    its audience when acting by link. Raises ``ClaimRefused``."""
    if facts is None or facts.status == Customer.Status.ERASED:
        raise _refused("link_invalid", "customer_unknown")
    if facts.blocked:
        raise _refused("blocked", "blacklist")
    if config.verified_only and not facts.verified:
        raise _refused("not_eligible", "unverified")
    if by_link and not facts.in_audience:
        raise _refused("not_eligible", "audience")


def velocity_gate(*, config: CampaignConfig, facts: CustomerFacts, ip: str | None) -> None:
    """Count one action by link against the campaign's per-IP and per-phone hourly limits."""
    over = velocity_count(
        campaign_id=config.id,
        ip=ip,
        ip_limit=config.velocity_ip_per_hour,
        phone_hash=facts.phone_hash,
        phone_limit=config.velocity_phone_per_hour,
    )
    if over:
        raise _refused("blocked", f"velocity_{over}")


def coupon_claim(
    *,
    customer_id: int,
    campaign_id: int,
    template_id: int | None = None,
    source: str = Coupon.Source.LINK,
    ip: str | None = None,
    now: datetime | None = None,
) -> ClaimResult:
    """Claim a coupon of ``campaign_id`` for the customer; raises ``ClaimRefused``
    (recorded with its reason) when the rules say no."""
    now = now or timezone.now()
    config: CampaignConfig | None = None
    facts: CustomerFacts | None = None
    template: TemplateConfig | None = None
    try:
        config = campaign_config(campaign_id)
        if config is not None and config.status != Campaign.Status.LIVE:
            config = campaign_config(campaign_id, fresh=True)  # it may have gone live since
        if config is None or not config.is_open(now):
            raise _refused("campaign_not_live")
        if config.kind == Campaign.Kind.LOTTERY:
            raise _refused("not_eligible", "template")  # a lottery's coupons are won, not claimed
        if config.kind == Campaign.Kind.REFERRAL and source == Coupon.Source.LINK:
            raise _refused("not_eligible", "template")  # a referral's coupons are earned by invites
        facts = customer_facts(customer_id=customer_id, config=config)
        customer_gate(config=config, facts=facts, by_link=source == Coupon.Source.LINK)
        variant = variant_for(config, facts.id)
        allowed = templates_for(config, variant)
        if template_id is None and len(allowed) == 1:
            template_id = allowed[0]
        if template_id not in allowed or template_id not in config.templates:
            raise _refused("not_eligible", "template")
        template = config.templates[template_id]
        if template.per_phone_limit and not facts.phone_hash:
            raise _refused("not_eligible", "no_phone")
        if source == Coupon.Source.LINK:
            velocity_gate(config=config, facts=facts, ip=ip)
        return _claim_write(
            config=config, template=template, facts=facts, variant=variant, source=source, now=now
        )
    except ClaimRefused as refusal:
        known = facts is not None and facts.status != Customer.Status.ERASED
        claim_refusal_record(
            code=refusal.code,
            reason=refusal.reason,
            source=source,
            campaign_id=config.id if config is not None else None,
            template_id=template.id if template else None,
            customer_id=facts.id if known else None,
            phone_hash=facts.phone_hash if known else "",
            ip=ip,
            now=now,
        )
        raise


def coupon_grant(
    *,
    campaign_id: int,
    template_id: int,
    customer_id: int,
    phone_hash: str = "",
    now: datetime | None = None,
) -> ClaimResult:
    """Coupons of a template for a customer whom another rule has chosen (a lottery prize),
    inside the caller's transaction: the template's stock is taken by the claim statement
    (guarded, the campaign live), but no per-customer or per-phone limit, no velocity and
    no budget step, as the caller took the cost from the budget itself; each coupon holds
    its template's cost (``reserved_fen``) so the expiry of an unused one gives it back.
    Raises ``ClaimRefused`` (not recorded: the caller records its own refusal)."""
    now = now or timezone.now()
    config = campaign_config(campaign_id)
    if config is None or template_id not in config.templates:
        raise _refused("not_eligible", "template")
    template = config.templates[template_id]
    facts = CustomerFacts(
        id=customer_id,
        status=Customer.Status.ACTIVE,
        verified=True,
        phone_hash=phone_hash,
        blocked=False,
        in_audience=True,
    )
    return _claim_write(
        config=dataclasses.replace(config, per_customer_limit=None, has_budget=False),
        template=dataclasses.replace(template, per_customer_limit=None, per_phone_limit=None),
        facts=facts,
        variant=None,
        source=Coupon.Source.LINK,
        now=now,
        reserved_fen=template.cost_cap_fen if config.has_budget else 0,
    )


def claim_refusal_record(
    *,
    code: str,
    reason: str = "",
    source: str,
    campaign_id: int | None = None,
    template_id: int | None = None,
    customer_id: int | None = None,
    phone_hash: str = "",
    ip: str | None = None,
    now: datetime | None = None,
) -> ClaimRefusal:
    """Every refused claim is kept with its reason (D4), and the customer's first
    contact with the campaign is recorded even when the claim was refused (D13)."""
    now = now or timezone.now()
    if campaign_id is not None and customer_id is not None and _has_variants(campaign_id):
        contact_record(campaign_id=campaign_id, customer_id=customer_id, now=now)
    return ClaimRefusal.objects.create(
        at=now,
        code=code,
        reason=reason[:64],
        source=source,
        campaign_id=campaign_id,
        template_id=template_id,
        customer_id=customer_id,
        phone_hash=phone_hash,
        ip=ip or None,
    )


def _has_variants(campaign_id: int) -> bool:
    config = campaign_config(campaign_id)
    return bool(config and config.variants)


def contact_record(
    *, campaign_id: int, customer_id: int, now: datetime | None = None, opened: bool = False
) -> None:
    """The customer's first contact with the campaign, with their A/B variant (kept for
    good); ``opened`` marks the link as opened (the funnel's second step)."""
    now = now or timezone.now()
    config = campaign_config(campaign_id)
    variant = variant_for(config, customer_id) if config else None
    CampaignContact.objects.bulk_create(
        [
            CampaignContact(
                campaign_id=campaign_id,
                customer_id=customer_id,
                variant_id=variant.id if variant else None,
                first_contact_at=now,
                opened_at=now if opened else None,
            )
        ],
        ignore_conflicts=True,
    )
    if opened:
        CampaignContact.objects.filter(
            campaign_id=campaign_id, customer_id=customer_id, opened_at__isnull=True
        ).update(opened_at=now)


def coupon_issue(
    *,
    actor,
    campaign_id: int,
    template_id: int | None = None,
    external_userid: str = "",
    customer_no: str = "",
    now: datetime | None = None,
) -> ClaimResult:
    """The bank's systems issue a coupon to a customer named by ``external_userid`` or
    bank customer number: the same stock and limit guarantees as a customer's claim;
    the audience is the bank's to choose, the verified-only gate (D4) still holds."""
    if not getattr(actor, "is_authenticated", False) or not actor.has_perm(
        "campaigns.issue_coupons"
    ):
        raise DomainError("forbidden", _("该账号没有发放优惠券的权限"), status=403)
    if external_userid:
        customers = Customer.objects.filter(external_userid=external_userid)
    elif customer_no:
        customers = Customer.objects.filter(bank_record__customer_no=customer_no)
    else:
        raise DomainError("customer_required", _("请提供 external_userid 或行内客户号"))
    customer = customers.exclude(status=Customer.Status.ERASED).order_by("pk").values("pk").first()
    if customer is None:
        raise DomainError("customer_not_found", _("客户不存在"), status=404)
    return coupon_claim(
        customer_id=customer["pk"],
        campaign_id=campaign_id,
        template_id=template_id,
        source=Coupon.Source.API,
        now=now,
    )
