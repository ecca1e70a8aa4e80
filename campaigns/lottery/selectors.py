"""Reads of the lottery: the customer's draw page, the draws list and the report (D7, D13)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign, ClaimRefusal, Redemption
from campaigns.money import fen_display
from campaigns.payouts.models import Payout
from campaigns.selectors import template_benefit
from campaigns.services.claims import SHANGHAI
from scrm.core.db import reads_from_reports

from .models import Draw, DrawCounter, Lottery, Prize


def lottery_campaigns() -> QuerySet[Campaign]:
    return Campaign.objects.filter(kind=Campaign.Kind.LOTTERY)


def prize_benefit(prize: Prize) -> str:
    """What the prize is worth in the customer's words (the name says what it is)."""
    if prize.kind == Prize.Kind.RED_PACKET:
        return _("现金红包 %(v)s 元") % {"v": fen_display(prize.amount_fen or 0)}
    if prize.kind == Prize.Kind.COUPON and prize.coupon_template is not None:
        return template_benefit(prize.coupon_template)
    if prize.kind == Prize.Kind.GIFT:
        return _("实物礼品")
    return ""


@dataclass
class DrawPage:
    campaign: Campaign
    lottery: Lottery
    open: bool
    prizes: list[Prize]
    left_today: int | None  # None: no daily limit
    left_total: int | None  # None: no campaign limit
    mine: list[Draw] = field(default_factory=list)

    @property
    def can_draw(self) -> bool:
        return self.open and self.left_today != 0 and self.left_total != 0


def draw_page(
    *, customer_id: int, campaign_id: int, now: datetime | None = None
) -> DrawPage | None:
    campaign = Campaign.objects.filter(pk=campaign_id, kind=Campaign.Kind.LOTTERY).first()
    lottery = Lottery.objects.filter(campaign_id=campaign_id).first() if campaign else None
    if campaign is None or lottery is None:
        return None
    now = now or timezone.now()
    base = f"l{campaign_id}:u{customer_id}"
    day_key = f"{base}:{now.astimezone(SHANGHAI).date():%Y%m%d}"
    used = dict(DrawCounter.objects.filter(key__in=[base, day_key]).values_list("key", "n"))
    prizes = [
        p
        for p in Prize.objects.filter(campaign=campaign)
        .select_related("coupon_template")
        .order_by("position", "pk")
        if not (lottery.everyone_wins and p.kind == Prize.Kind.THANKS)
    ]
    return DrawPage(
        campaign=campaign,
        lottery=lottery,
        open=campaign.status == Campaign.Status.LIVE
        and campaign.starts_at <= now < campaign.ends_at,
        prizes=prizes,
        left_today=None
        if lottery.draws_per_day is None
        else max(0, lottery.draws_per_day - used.get(day_key, 0)),
        left_total=None
        if lottery.draws_per_customer is None
        else max(0, lottery.draws_per_customer - used.get(base, 0)),
        mine=list(
            Draw.objects.filter(campaign=campaign, customer_id=customer_id)
            .select_related("prize", "coupon")
            .order_by("-drawn_at", "-pk")[:20]
        ),
    )


def draws_of_campaign(campaign_id: int) -> QuerySet[Draw]:
    return (
        Draw.objects.filter(campaign_id=campaign_id)
        .select_related("prize", "customer", "coupon", "payout")
        .order_by("drawn_at", "pk")
    )


# --------------------------------------------------------------------------- the report


@dataclass
class PrizeRow:
    prize: Prize
    draws: int
    winners: int  # customers who got it at least once
    cost_fen: int  # what its draws hold of the budget

    @property
    def stock_text(self) -> str:
        if self.prize.total_stock is None:
            return "—"
        return f"{self.prize.stock_remaining}/{self.prize.total_stock}"


@dataclass
class LotteryReport:
    campaign: Campaign
    participants: int  # customers who drew at least once
    draws: int
    winners: int  # customers who won at least one prize (not "thanks")
    budget_fen: int | None
    committed_fen: int  # budget used: every prize won holds its cost
    paid_fen: int  # paid out so far: red packets paid, coupons' discounts redeemed
    prizes: list[PrizeRow]
    refusals: dict[str, int]

    @property
    def budget_left_fen(self) -> int | None:
        return None if self.budget_fen is None else self.budget_fen - self.committed_fen

    @property
    def cost_per_member_fen(self) -> int | None:
        """Budget used per participant (D7: "about 0.75 yuan per member")."""
        return self.committed_fen // self.participants if self.participants else None

    @property
    def paid_per_member_fen(self) -> int | None:
        return self.paid_fen // self.participants if self.participants else None

    @property
    def budget_used_ratio(self) -> float | None:
        return self.committed_fen / self.budget_fen if self.budget_fen else None


@reads_from_reports
def lottery_report(campaign: Campaign) -> LotteryReport:
    """Participants, winners per prize, budget used against its cap, cost per member."""
    draws = Draw.objects.filter(campaign=campaign)
    totals = draws.aggregate(
        n=Count("pk"),
        participants=Count("customer_id", distinct=True),
        winners=Count("customer_id", filter=Q(won=True), distinct=True),
    )
    per_prize = {
        row["prize_id"]: row
        for row in draws.values("prize_id").annotate(
            n=Count("pk"), winners=Count("customer_id", distinct=True), cost=Sum("cost_fen")
        )
    }
    rows = [
        PrizeRow(
            prize=prize,
            draws=per_prize.get(prize.pk, {}).get("n", 0),
            winners=per_prize.get(prize.pk, {}).get("winners", 0),
            cost_fen=per_prize.get(prize.pk, {}).get("cost") or 0,
        )
        for prize in Prize.objects.filter(campaign=campaign)
        .select_related("coupon_template")
        .order_by("position", "pk")
    ]
    paid_packets = (
        Payout.objects.filter(
            campaign=campaign, reason=Payout.Reason.LOTTERY_PRIZE, status=Payout.Status.PAID
        ).aggregate(s=Sum("amount_fen"))["s"]
        or 0
    )
    redeemed = (
        Redemption.objects.filter(coupon__campaign=campaign, status="redeemed").aggregate(
            s=Sum("discount_fen")
        )["s"]
        or 0
    )
    campaign.refresh_from_db(fields=["budget_fen", "budget_committed_fen"])
    return LotteryReport(
        campaign=campaign,
        participants=totals["participants"],
        draws=totals["n"],
        winners=totals["winners"],
        budget_fen=campaign.budget_fen,
        committed_fen=campaign.budget_committed_fen,
        paid_fen=paid_packets + redeemed,
        prizes=rows,
        refusals=dict(
            ClaimRefusal.objects.filter(campaign=campaign)
            .values_list("code")
            .annotate(n=Count("pk"))
            .order_by()
        ),
    )
