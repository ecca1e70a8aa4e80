"""Reads of the campaigns app: pages, the admin, reports and exports."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm.core.db import reads_from_reports

from .models import (
    Campaign,
    CampaignContact,
    CampaignVariant,
    ClaimRefusal,
    Coupon,
    CouponTemplate,
    Redemption,
)
from .money import fen_display
from .services.claims import campaign_config, templates_for, variant_for
from .stats import ProportionTest, two_proportion_test


def coupons_of_customer(*, customer_id: int) -> QuerySet[Coupon]:
    return (
        Coupon.objects.filter(customer_id=customer_id)
        .select_related("template", "campaign")
        .order_by("-claimed_at", "instalment_no", "pk")
    )


@dataclass
class ClaimOption:
    template: CouponTemplate
    claimed: int  # coupons of this template the customer has


@dataclass
class ClaimPage:
    campaign: Campaign
    open: bool
    message: str  # the customer's A/B incentive text, if any
    options: list[ClaimOption] = field(default_factory=list)


def claim_page(*, customer_id: int, campaign_id: int) -> ClaimPage | None:
    """What the customer's claim page shows: the templates of their variant."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return None
    config = campaign_config(campaign_id)
    variant = variant_for(config, customer_id) if config else None
    allowed = templates_for(config, variant) if config else []
    held = dict(
        Coupon.objects.filter(customer_id=customer_id, campaign_id=campaign_id, instalment_no=1)
        .values_list("template_id")
        .annotate(n=Count("pk"))
    )
    templates = CouponTemplate.objects.filter(pk__in=allowed).order_by("pk")
    message = ""
    if variant is not None:
        message = CampaignVariant.objects.filter(pk=variant.id).values_list("message", flat=True)[0]
    now = timezone.now()
    return ClaimPage(
        campaign=campaign,
        open=campaign.status == Campaign.Status.LIVE
        and campaign.starts_at <= now < campaign.ends_at,
        message=message,
        options=[ClaimOption(template=t, claimed=held.get(t.pk, 0)) for t in templates],
    )


# --------------------------------------------------------------------------- reports


@dataclass
class VariantRow:
    variant: CampaignVariant
    assigned: int
    claimed: int
    redeemed: int
    cost_fen: int

    @property
    def claim_rate(self) -> float | None:
        return self.claimed / self.assigned if self.assigned else None


@dataclass
class CampaignReport:
    targeted: int
    opened: int
    claimed: int  # customers with at least one coupon
    redeemed: int  # customers with at least one redeemed coupon
    coupons: int
    coupons_redeemed: int
    cost_fen: int
    stock: list[CouponTemplate]
    refusals: dict[str, int]
    variants: list[VariantRow]
    variant_test: ProportionTest | None

    @property
    def cost_per_claimed_fen(self) -> int | None:
        return self.cost_fen // self.claimed if self.claimed else None

    @property
    def cost_per_redeemed_fen(self) -> int | None:
        return self.cost_fen // self.redeemed if self.redeemed else None

    @property
    def stock_left(self) -> int:
        return sum(t.stock_remaining for t in self.stock)


@reads_from_reports
def campaign_report(campaign: Campaign) -> CampaignReport:
    """The funnel (targeted → link opened → claimed → redeemed), stock, cost and A/B
    variants side by side with a two-proportion test of their claim rates (D13)."""
    contacts = CampaignContact.objects.filter(campaign=campaign)
    coupons = Coupon.objects.filter(campaign=campaign)
    standing = Redemption.objects.filter(coupon__campaign=campaign, status="redeemed")
    variants = []
    for variant in campaign.variants.order_by("key"):
        mine = coupons.filter(variant=variant)
        variants.append(
            VariantRow(
                variant=variant,
                assigned=contacts.filter(variant=variant).count(),
                claimed=mine.values("customer_id").distinct().count(),
                redeemed=mine.filter(status="redeemed").values("customer_id").distinct().count(),
                cost_fen=standing.filter(coupon__variant=variant).aggregate(s=Sum("discount_fen"))[
                    "s"
                ]
                or 0,
            )
        )
    test = None
    if len(variants) >= 2:
        a, b = variants[0], variants[1]
        test = two_proportion_test(a.claimed, a.assigned, b.claimed, b.assigned)
    return CampaignReport(
        targeted=contacts.filter(targeted_at__isnull=False).count(),
        opened=contacts.filter(opened_at__isnull=False).count(),
        claimed=coupons.values("customer_id").distinct().count(),
        redeemed=coupons.filter(status="redeemed").values("customer_id").distinct().count(),
        coupons=coupons.count(),
        coupons_redeemed=coupons.filter(status="redeemed").count(),
        cost_fen=standing.aggregate(s=Sum("discount_fen"))["s"] or 0,
        stock=list(campaign.templates.order_by("pk")),
        refusals=dict(
            ClaimRefusal.objects.filter(campaign=campaign)
            .values_list("code")
            .annotate(n=Count("pk"))
            .order_by()
        ),
        variants=variants,
        variant_test=test,
    )


def campaigns_with_counts(qs: QuerySet[Campaign] | None = None) -> QuerySet[Campaign]:
    qs = Campaign.objects.all() if qs is None else qs
    return qs.annotate(
        n_claimed=Count("coupons", distinct=True),
        n_redeemed=Count("coupons", filter=Q(coupons__status="redeemed"), distinct=True),
        stock_left=Subquery(
            CouponTemplate.objects.filter(campaign_id=OuterRef("pk"))
            .values("campaign_id")
            .annotate(s=Sum("stock_remaining"))
            .values("s")
        ),
    )


def campaign_claims_for_export(campaign: Campaign) -> QuerySet[Coupon]:
    return (
        Coupon.objects.filter(campaign=campaign)
        .select_related("template", "customer", "variant")
        .order_by("claimed_at", "pk")
    )


def template_benefit(template: CouponTemplate, *, instalment: int | None = None) -> str:
    """The benefit in the customer's words: 5 折, 满 100.00 元减 20.00 元, …"""
    kind = template.kind
    value = fen_display(template.face_value_fen or 0)
    if kind == CouponTemplate.Kind.PERCENT_OFF:
        rest = 100 - int(template.percent_off or 0)
        zhe = f"{rest // 10}.{rest % 10}" if rest % 10 else f"{rest // 10}"
        return _("%(zhe)s 折，最高优惠 %(max)s 元") % {
            "zhe": zhe,
            "max": fen_display(template.max_discount_fen or 0),
        }
    if kind == CouponTemplate.Kind.AMOUNT_OFF:
        if template.min_spend_fen:
            return _("满 %(min)s 元减 %(v)s 元") % {
                "min": fen_display(template.min_spend_fen),
                "v": value,
            }
        return _("立减 %(v)s 元") % {"v": value}
    if kind == CouponTemplate.Kind.VOUCHER:
        return _("兑换券，价值 %(v)s 元") % {"v": value}
    text = _("礼金 %(v)s 元") % {"v": value}
    if instalment and template.instalments > 1:
        text += _("（第 %(n)s/%(total)s 期）") % {"n": instalment, "total": template.instalments}
    return text
