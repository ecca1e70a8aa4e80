"""The draw: one customer, one random number, one transaction (D7).

Before the transaction, the campaign core's gates: the campaign is a live lottery, the
customer is known, not blacklisted, verified when it is verified-only, in its audience,
under the velocity limits. Then, in one transaction:

1. the draw limits (per customer for the campaign, per customer for the day): one
   guarded upsert per limit, ``n = n + 1 WHERE n < cap``, in the statement that also
   reads the prizes' stock and the campaign's budget;
2. the drawable prizes: those with stock left whose cost still fits what is left of the
   budget (so the budget covers every prize ever won: the expected payout can never
   exceed it); a prize that ran out, or that the budget can no longer cover, drops out
   and its weight goes to the others in proportion; in everyone-wins mode "thanks for
   taking part" is never drawn and no draw happens once the consolation prize cannot
   be given;
3. the number: ``secrets.randbelow(total weight)``, walked along the drawable prizes;
4. the prize's stock and its cost from the budget: one statement of guarded UPDATEs; if a
   concurrent draw took the last of either in between, nothing is taken and 2–3 run
   again on what is now there;
5. the draw record with everything that decided it, and the prize itself: a coupon of
   its template (the campaign core's ``coupon_grant``) or a payout on the ledger
   (``payout_schedule``, the budget already taken).

Any refusal rolls the whole transaction back (the limit counters included) and is
recorded with its reason, as the campaign core records refused claims.
"""

from __future__ import annotations

import functools
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign, Coupon
from campaigns.payouts.services import payout_schedule
from campaigns.services.behaviour import lottery_drawn_record
from campaigns.services.claims import (
    FROZEN_STATUSES,
    SHANGHAI,
    CampaignConfig,
    ClaimRefused,
    campaign_config,
    claim_refusal_record,
    coupon_grant,
    customer_facts,
    customer_gate,
    velocity_gate,
)
from campaigns.sql import Statement
from contacts.models import Customer
from scrm.core.errors import DomainError

from ..models import Draw, DrawCounter, Lottery, Prize

SOURCE = "lottery"  # ClaimRefusal.source of refused draws
CONFIG_TTL_S = 10.0
MAX_ATTEMPTS = 8
RULE = "v1: drawable = stock left and cost <= budget left (thanks excluded when everyone wins);"
RULE += " prize = first drawable (by position, id) whose cumulative weight exceeds roll;"
RULE += " roll = secrets.randbelow(sum of drawable weights)"


def _refused(code: str, reason: str = "") -> ClaimRefused:
    messages = {
        "out_of_stock": (_("奖品已全部抽完，感谢您的参与"), 409),
        "limit_reached:daily": (_("今日抽奖次数已用完，请明天再来"), 409),
        "limit_reached:campaign": (_("您的抽奖次数已用完"), 409),
        "campaign_not_live": (_("活动未开始或已结束"), 409),
        "link_invalid": (_("链接无效"), 403),
    }
    return ClaimRefused.of(messages, code, reason)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class PrizeConfig:
    id: int
    name: str
    kind: str
    weight: int
    cost_fen: int
    limited: bool
    template_id: int | None
    amount_fen: int | None
    is_consolation: bool


@dataclass(frozen=True)
class LotteryConfig:
    campaign_id: int
    everyone_wins: bool
    draws_per_customer: int | None
    draws_per_day: int | None
    prizes: tuple[PrizeConfig, ...]  # in drawing order: position, then id
    loaded_at: float = field(default_factory=time.monotonic, compare=False)

    def prize(self, prize_id: int) -> PrizeConfig | None:
        return next((p for p in self.prizes if p.id == prize_id), None)


_CONFIGS: dict[int, LotteryConfig] = {}


def lottery_config_load(campaign_id: int) -> LotteryConfig | None:
    lottery = Lottery.objects.filter(campaign_id=campaign_id).first()
    if lottery is None:
        return None
    prizes = tuple(
        PrizeConfig(
            id=p.pk,
            name=p.name,
            kind=p.kind,
            weight=p.weight,
            cost_fen=p.cost_fen,
            limited=p.total_stock is not None,
            template_id=p.coupon_template_id,
            amount_fen=p.amount_fen,
            is_consolation=p.is_consolation,
        )
        for p in Prize.objects.filter(campaign_id=campaign_id).order_by("position", "pk")
    )
    return LotteryConfig(
        campaign_id=campaign_id,
        everyone_wins=lottery.everyone_wins,
        draws_per_customer=lottery.draws_per_customer,
        draws_per_day=lottery.draws_per_day,
        prizes=prizes,
    )


def lottery_config(campaign: CampaignConfig) -> LotteryConfig | None:
    """The prize table is frozen once the campaign leaves the draft status (as the
    campaign's own configuration), so it is cached per process for a few seconds."""
    cached = _CONFIGS.get(campaign.id)
    if cached is not None and time.monotonic() - cached.loaded_at < CONFIG_TTL_S:
        return cached
    config = lottery_config_load(campaign.id)
    if config is not None and campaign.status in FROZEN_STATUSES:
        _CONFIGS[campaign.id] = config
    else:
        _CONFIGS.pop(campaign.id, None)
    return config


def lottery_config_forget(campaign_id: int | None = None) -> None:
    if campaign_id is None:
        _CONFIGS.clear()
    else:
        _CONFIGS.pop(campaign_id, None)


# --------------------------------------------------------------------------- the rule


@dataclass(frozen=True)
class Drawable:
    eligible: tuple[PrizeConfig, ...]
    excluded: dict[int, str]  # prize id → "out_of_stock" | "budget" | "everyone_wins"

    @property
    def total_weight(self) -> int:
        return sum(p.weight for p in self.eligible)


def drawable(
    config: LotteryConfig,
    *,
    stock: dict[int, int | None],
    budget_fen: int | None,
    committed_fen: int,
) -> Drawable:
    """Which prizes can be drawn with this stock and budget (a pure function: the draw
    and its replay both use it)."""
    left = None if budget_fen is None else budget_fen - committed_fen
    eligible: list[PrizeConfig] = []
    excluded: dict[int, str] = {}
    for prize in config.prizes:
        if config.everyone_wins and prize.kind == Prize.Kind.THANKS:
            excluded[prize.id] = "everyone_wins"
        elif prize.limited and (stock.get(prize.id) or 0) <= 0:
            excluded[prize.id] = "out_of_stock"
        elif prize.cost_fen and left is not None and prize.cost_fen > left:
            excluded[prize.id] = "budget"
        else:
            eligible.append(prize)
    return Drawable(eligible=tuple(eligible), excluded=excluded)


def prize_for_roll(eligible: tuple[PrizeConfig, ...], roll: int) -> PrizeConfig:
    """The prize ``roll`` (0 ≤ roll < total weight) lands on."""
    for prize in eligible:
        if roll < prize.weight:
            return prize
        roll -= prize.weight
    raise ValueError("roll out of range")


# --------------------------------------------------------------------------- statements


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _state_sql(with_limits: bool) -> str:
    counter, campaign, prize = _t(DrawCounter), _t(Campaign), _t(Prize)
    limits = f"""
WITH lim AS (
    INSERT INTO {counter} AS dc (key, n, cap)
    SELECT u.key, 1, u.cap FROM unnest(%(keys)s::varchar[], %(caps)s::integer[]) AS u(key, cap)
    ORDER BY u.key
    ON CONFLICT (key) DO UPDATE SET n = dc.n + 1, cap = EXCLUDED.cap
    WHERE dc.n < EXCLUDED.cap
    RETURNING dc.key
)"""  # noqa: S608
    # Table names come from the models' metadata, quoted; every value is a parameter.
    return f"""{limits if with_limits else ""}
SELECT {"ARRAY(SELECT key FROM lim)" if with_limits else "ARRAY[]::varchar[]"},
    c.budget_fen, c.budget_committed_fen,
    c.status = 'live' AND c.starts_at <= %(now)s AND c.ends_at > %(now)s,
    ARRAY(SELECT p.id FROM {prize} p WHERE p.campaign_id = c.id ORDER BY p.id),
    ARRAY(SELECT p.stock_remaining FROM {prize} p WHERE p.campaign_id = c.id ORDER BY p.id)
FROM {campaign} c WHERE c.id = %(campaign)s
"""  # noqa: S608


def _take_sql() -> str:
    campaign, prize = _t(Campaign), _t(Prize)
    # The budget is taken only if the stock was (b reads s), so one statement takes both
    # or, when the budget no longer fits, only the stock, which is then given back.
    return f"""
WITH s AS (
    UPDATE {prize} SET stock_remaining = stock_remaining - 1
    WHERE id = %(prize)s AND %(limited)s AND stock_remaining > 0
    RETURNING id
), b AS (
    UPDATE {campaign} SET budget_committed_fen = budget_committed_fen + %(cost)s
    WHERE id = %(campaign)s AND %(cost)s > 0
      AND (NOT %(limited)s OR EXISTS (SELECT 1 FROM s))
      AND (budget_fen IS NULL OR budget_committed_fen + %(cost)s <= budget_fen)
    RETURNING id
)
SELECT NOT %(limited)s OR EXISTS (SELECT 1 FROM s), %(cost)s = 0 OR EXISTS (SELECT 1 FROM b)
"""  # noqa: S608


@functools.cache
def _state_statement(with_limits: bool) -> Statement:
    return Statement(f"lottery_state_{int(with_limits)}", _state_sql(with_limits))


@functools.cache
def _take_statement() -> Statement:
    return Statement("lottery_take", _take_sql())


@dataclass(frozen=True)
class State:
    got_keys: list[str]
    budget_fen: int | None
    committed_fen: int
    live: bool
    stock: dict[int, int | None]


def _state(params: dict, *, with_limits: bool) -> State:
    with connection.cursor() as cursor:
        _state_statement(with_limits).execute(cursor, params)
        row = cursor.fetchone()
    if row is None:
        raise _refused("campaign_not_live")
    keys, budget, committed, live, ids, stocks = row
    return State(
        got_keys=list(keys or []),
        budget_fen=budget,
        committed_fen=committed,
        live=live,
        stock=dict(zip(ids or [], stocks or [], strict=True)),
    )


def _take(*, campaign_id: int, prize: PrizeConfig) -> bool:
    if not prize.limited and not prize.cost_fen:
        return True
    params = {
        "prize": prize.id,
        "limited": prize.limited,
        "cost": prize.cost_fen,
        "campaign": campaign_id,
    }
    with connection.cursor() as cursor:
        _take_statement().execute(cursor, params)
        stock_ok, budget_ok = cursor.fetchone()
    if stock_ok and not budget_ok and prize.limited:
        # We hold the prize's row lock until commit: giving the unit back is exact.
        Prize.objects.filter(pk=prize.id).update(stock_remaining=F("stock_remaining") + 1)
    return bool(stock_ok and budget_ok)


# --------------------------------------------------------------------------- the draw


@dataclass
class DrawResult:
    draw: Draw
    prize: PrizeConfig
    coupons: list[Coupon] = field(default_factory=list)
    replayed: bool = False  # the same request key was drawn before: its first answer


def _limit_keys(config: LotteryConfig, customer_id: int, now: datetime) -> list[tuple[str, int]]:
    keys = []
    base = f"l{config.campaign_id}:u{customer_id}"
    if config.draws_per_customer:
        keys.append((base, config.draws_per_customer))
    if config.draws_per_day:
        day = now.astimezone(SHANGHAI).date()
        keys.append((f"{base}:{day:%Y%m%d}", config.draws_per_day))
    return sorted(keys)


def _inputs(config: LotteryConfig, state: State, found: Drawable, attempt: int) -> dict:
    return {
        "rule": RULE,
        "everyone_wins": config.everyone_wins,
        "budget_fen": state.budget_fen,
        "committed_fen": state.committed_fen,
        "stock_seen": {str(k): v for k, v in sorted(state.stock.items())},
        "eligible": [[p.id, p.weight, p.cost_fen] for p in found.eligible],
        "excluded": {str(k): v for k, v in sorted(found.excluded.items())},
        "attempt": attempt,
    }


def _existing(campaign_id: int, customer_id: int, request_key: str) -> DrawResult | None:
    if not request_key:
        return None
    draw = Draw.objects.filter(
        campaign_id=campaign_id, customer_id=customer_id, request_key=request_key
    ).first()
    if draw is None:
        return None
    config = lottery_config_load(campaign_id)
    prize = config.prize(draw.prize_id) if config else None
    coupons = list(Coupon.objects.filter(pk=draw.coupon_id)) if draw.coupon_id else []
    return DrawResult(draw=draw, prize=prize, coupons=coupons, replayed=True)


def _draw_write(
    *,
    campaign: CampaignConfig,
    config: LotteryConfig,
    customer_id: int,
    phone_hash: str,
    ip: str | None,
    request_key: str,
    now: datetime,
) -> DrawResult:
    keys = _limit_keys(config, customer_id, now)
    params = {
        "keys": [k for k, _cap in keys],
        "caps": [cap for _k, cap in keys],
        "now": now,
        "campaign": campaign.id,
    }
    with transaction.atomic():
        state = _state(params, with_limits=True)
        if len(state.got_keys) < len(keys):
            missing = {k for k, _cap in keys} - set(state.got_keys)
            daily = any(k.count(":") == 2 for k in missing)
            raise _refused("limit_reached", "daily" if daily else "campaign")
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if attempt > 1:
                state = _state(params, with_limits=False)
            if not state.live:
                raise _refused("campaign_not_live")
            found = drawable(
                config,
                stock=state.stock,
                budget_fen=state.budget_fen,
                committed_fen=state.committed_fen,
            )
            if config.everyone_wins and not any(p.is_consolation for p in found.eligible):
                raise _refused("out_of_stock", "consolation")
            if not found.eligible:
                raise _refused("out_of_stock", "prizes")
            roll = secrets.randbelow(found.total_weight)
            prize = prize_for_roll(found.eligible, roll)
            if _take(campaign_id=campaign.id, prize=prize):
                break
        else:
            raise DomainError("lottery_busy", _("抽奖人数较多，请稍后再试"), status=503)
        coupons: list[Coupon] = []
        if prize.kind == Prize.Kind.COUPON:
            coupons = coupon_grant(
                campaign_id=campaign.id,
                template_id=prize.template_id,
                customer_id=customer_id,
                phone_hash=phone_hash,
                now=now,
            ).coupons
        draw = Draw.objects.create(
            campaign_id=campaign.id,
            customer_id=customer_id,
            prize_id=prize.id,
            won=prize.kind != Prize.Kind.THANKS,
            cost_fen=prize.cost_fen,
            roll=roll,
            total_weight=found.total_weight,
            inputs=_inputs(config, state, found, attempt),
            coupon_id=coupons[0].pk if coupons else None,
            request_key=request_key,
            day=now.astimezone(SHANGHAI).date(),
            drawn_at=now,
            ip=ip,
        )
        lottery_drawn_record(draw=draw, prize=prize)
        if prize.kind == Prize.Kind.RED_PACKET:
            payout = payout_schedule(
                campaign=Campaign(pk=campaign.id),
                customer=Customer(pk=customer_id),
                amount_fen=prize.amount_fen,
                reason="lottery_prize",
                source_key=f"lottery:draw:{draw.pk}",
                budget_reserved=True,
                note=prize.name,
                now=now,
            )
            Draw.objects.filter(pk=draw.pk).update(payout=payout)
            draw.payout = payout
    return DrawResult(draw=draw, prize=prize, coupons=coupons)


def lottery_draw(
    *,
    customer_id: int,
    campaign_id: int,
    ip: str | None = None,
    request_key: str = "",
    now: datetime | None = None,
) -> DrawResult:
    """One draw of the customer in the lottery ``campaign_id``. Raises ``ClaimRefused``
    (recorded with its reason) when the rules say no. A ``request_key`` already drawn
    (a double tap, a retry) returns that draw again and draws nothing."""
    now = now or timezone.now()
    request_key = (request_key or "")[:64]
    campaign: CampaignConfig | None = None
    facts = None
    try:
        campaign = campaign_config(campaign_id)
        if campaign is not None and campaign.status != Campaign.Status.LIVE:
            campaign = campaign_config(campaign_id, fresh=True)  # it may have gone live since
        if campaign is None or campaign.kind != Campaign.Kind.LOTTERY:
            raise _refused("link_invalid", "not_a_lottery")
        if not campaign.is_open(now):
            raise _refused("campaign_not_live")
        config = lottery_config(campaign)
        if config is None:
            raise _refused("link_invalid", "not_a_lottery")
        facts = customer_facts(customer_id=customer_id, config=campaign)
        customer_gate(config=campaign, facts=facts, by_link=True)
        again = _existing(campaign.id, customer_id, request_key)
        if again is not None:
            return again
        velocity_gate(config=campaign, facts=facts, ip=ip)
        try:
            return _draw_write(
                campaign=campaign,
                config=config,
                customer_id=customer_id,
                phone_hash=facts.phone_hash,
                ip=ip,
                request_key=request_key,
                now=now,
            )
        except IntegrityError:
            # The same request key drawn at the same moment: the first one stands.
            again = _existing(campaign.id, customer_id, request_key)
            if again is None:
                raise
            return again
    except ClaimRefused as refusal:
        known = facts is not None and facts.status != Customer.Status.ERASED
        claim_refusal_record(
            code=refusal.code,
            reason=refusal.reason,
            source=SOURCE,
            campaign_id=campaign.id if campaign is not None else None,
            customer_id=facts.id if known else None,
            phone_hash=facts.phone_hash if known else "",
            ip=ip,
            now=now,
        )
        raise


# --------------------------------------------------------------------------- replay


@dataclass(frozen=True)
class Replay:
    draw_id: int
    prize_id: int  # what the draw gave
    replayed_prize_id: int  # what the recorded inputs give under the rule
    eligible: list[list[int]]  # [prize id, weight, cost] recomputed from the stock and budget seen
    total_weight: int
    roll: int
    eligible_matches: bool

    @property
    def matches(self) -> bool:
        return self.eligible_matches and self.prize_id == self.replayed_prize_id


def draw_replay(*, draw_id: int) -> Replay:
    """Why the customer got what they got: the recorded stock and budget, run through the
    rule with the prize table as approved, give the drawable prizes and their weights
    again; the recorded random number walked along them gives the prize again."""
    draw = Draw.objects.filter(pk=draw_id).first()
    if draw is None:
        raise DomainError("not_found", _("抽奖记录不存在"), status=404)
    config = lottery_config_load(draw.campaign_id)
    if config is None:
        raise DomainError("not_found", _("抽奖设置不存在"), status=404)
    inputs = draw.inputs
    found = drawable(
        config,
        stock={int(k): v for k, v in inputs["stock_seen"].items()},
        budget_fen=inputs["budget_fen"],
        committed_fen=inputs["committed_fen"],
    )
    eligible = [[p.id, p.weight, p.cost_fen] for p in found.eligible]
    replayed = prize_for_roll(found.eligible, draw.roll) if draw.roll < found.total_weight else None
    return Replay(
        draw_id=draw.pk,
        prize_id=draw.prize_id,
        replayed_prize_id=replayed.id if replayed else 0,
        eligible=eligible,
        total_weight=found.total_weight,
        roll=draw.roll,
        eligible_matches=eligible == inputs["eligible"] and found.total_weight == draw.total_weight,
    )
