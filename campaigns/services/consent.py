"""Marketing consent per product category (理财/基金/保险/贷款) and the opt-out (D14).

A customer who opted out of marketing (``Customer.marketing_opt_out``) is never sent
a campaign. A campaign for one of these categories is announced only to customers
whose latest recorded answer for it is an explicit yes. Answers are appended with
their source and time, never changed, and kept at least five years.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Customer
from scrm.core.errors import DomainError

from ..models import Campaign, MarketingConsent


def consent_record(
    *,
    customer_id: int,
    category: str,
    granted: bool,
    source: str,
    actor=None,
    at: datetime | None = None,
    note: str = "",
) -> MarketingConsent:
    if category not in Campaign.Category.values:
        raise DomainError("invalid", _("产品类别不正确"), data={"field": "category"})
    if source not in MarketingConsent.Source.values:
        raise DomainError("invalid", _("授权来源不正确"), data={"field": "source"})
    if not Customer.objects.filter(pk=customer_id).exists():
        raise DomainError("not_found", _("客户不存在"), status=404)
    return MarketingConsent.objects.create(
        customer_id=customer_id,
        category=category,
        granted=bool(granted),
        source=source,
        recorded_at=at or timezone.now(),
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        note=(note or "")[:200],
    )


def _latest_granted(category: str):
    latest = MarketingConsent.objects.filter(
        customer_id=OuterRef("pk"), category=category
    ).order_by("-recorded_at", "-pk")
    return Subquery(latest.values("granted")[:1])


def customers_marketable(qs: QuerySet[Customer], *, category: str = "") -> QuerySet[Customer]:
    """``qs`` without opted-out customers and, for a consent category, without those
    whose latest answer is not an explicit yes."""
    qs = qs.filter(marketing_opt_out=False).exclude(status=Customer.Status.ERASED)
    if category:
        qs = qs.annotate(_consent=_latest_granted(category)).filter(_consent=True)
    return qs


def customer_is_marketable(*, customer_id: int, category: str = "") -> bool:
    return customers_marketable(Customer.objects.filter(pk=customer_id), category=category).exists()
