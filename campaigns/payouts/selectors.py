"""Reads of the payout ledger: lists for the admin and the red-packet campaign report."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, QuerySet, Sum

from campaigns.models import Campaign
from scrm.core.db import reads_from_reports

from .models import Payout, PayoutAttempt


def payouts_for_campaign(campaign_id: int) -> QuerySet[Payout]:
    return Payout.objects.filter(campaign_id=campaign_id).select_related("customer")


def payout_attempts(payout_id: int) -> QuerySet[PayoutAttempt]:
    return PayoutAttempt.objects.filter(payout_id=payout_id).order_by("number", "pk")


@dataclass
class CampaignPayoutReport:
    campaign: Campaign
    # status → (entries, fen)
    by_status: dict[str, tuple[int, int]] = field(default_factory=dict)
    # cancel reason → entries
    cancel_reasons: dict[str, int] = field(default_factory=dict)
    members: int = 0
    paid_fen: int = 0
    committed_fen: int = 0
    budget_fen: int | None = None

    @property
    def cost_per_member_fen(self) -> float | None:
        return round(self.paid_fen / self.members, 2) if self.members else None

    @property
    def budget_used_ratio(self) -> float | None:
        return round(self.committed_fen / self.budget_fen, 4) if self.budget_fen else None

    @property
    def paid_ratio(self) -> float | None:
        return (
            round(self.by_status.get("paid", (0, 0))[0] / self.members, 4) if self.members else None
        )

    def as_dict(self) -> dict:
        return {
            "campaign": self.campaign.pk,
            "members": self.members,
            "by_status": {k: {"count": c, "fen": f} for k, (c, f) in self.by_status.items()},
            "cancel_reasons": self.cancel_reasons,
            "paid_fen": self.paid_fen,
            "budget_fen": self.budget_fen,
            "budget_committed_fen": self.committed_fen,
            "budget_used_ratio": self.budget_used_ratio,
            "cost_per_member_fen": self.cost_per_member_fen,
        }


@reads_from_reports
def campaign_payout_report(campaign: Campaign) -> CampaignPayoutReport:
    """Payouts by state, budget used vs cap, cost per member (paid ÷ members who got an
    entry: for a red-packet campaign, every member who joined its groups)."""
    rows = (
        Payout.objects.filter(campaign=campaign)
        .values("status")
        .annotate(n=Count("id"), fen=Sum("amount_fen"))
    )
    report = CampaignPayoutReport(campaign=campaign, budget_fen=campaign.budget_fen)
    for row in rows:
        report.by_status[row["status"]] = (row["n"], int(row["fen"] or 0))
    report.cancel_reasons = dict(
        Payout.objects.filter(campaign=campaign, status=Payout.Status.CANCELLED)
        .values_list("cancel_reason")
        .annotate(n=Count("id"))
        .values_list("cancel_reason", "n")
    )
    report.members = (
        Payout.objects.filter(campaign=campaign).aggregate(n=Count("customer", distinct=True))["n"]
        or 0
    )
    report.paid_fen = report.by_status.get(Payout.Status.PAID, (0, 0))[1]
    campaign.refresh_from_db(fields=["budget_committed_fen", "budget_fen"])
    report.committed_fen = campaign.budget_committed_fen
    report.budget_fen = campaign.budget_fen
    return report


def red_packet_campaigns() -> QuerySet[Campaign]:
    return Campaign.objects.filter(kind=Campaign.Kind.RED_PACKET).select_related("payout_policy")
