"""Reads on customers, follow relations and bank records.

``customers_visible_to`` applies the one access rule (``scrm.core.access``) to
customers (D14): pages, the admin, the API and exports all start from it.
"""

from __future__ import annotations

from datetime import date

from django.db.models import Exists, OuterRef, Q, QuerySet

from scrm.core.access import staff_of, viewer_scope

from .models import BankRecord, Customer, FollowRelation, Staff, TimelineEntry

__all__ = [
    "bank_record_by_phone_hash",
    "customer_by_external_userid",
    "customer_list",
    "customer_timeline",
    "customers_visible_to",
    "follow_relations_open",
    "staff_active",
    "staff_of",
]


def follow_relations_open(*, staff_userids: list[str]) -> QuerySet[FollowRelation]:
    """Relations still counted as live (active or half) for these staff members."""
    return FollowRelation.objects.filter(
        staff__userid__in=staff_userids,
        status__in=[FollowRelation.Status.ACTIVE, FollowRelation.Status.HALF],
    )


def customer_by_external_userid(external_userid: str) -> Customer | None:
    return Customer.objects.filter(external_userid=external_userid).first()


def staff_active() -> QuerySet[Staff]:
    return Staff.objects.filter(status=Staff.Status.ACTIVE)


def customers_visible_to(user) -> QuerySet[Customer]:
    """Customers in the person's scope (``scrm.core.access``): ops every customer; a
    branch manager those followed (actively) by staff of their branch; a customer
    manager those they follow actively."""
    qs = Customer.objects.all()
    scope = viewer_scope(user)
    if scope.everything:
        return qs
    if scope.nothing:
        return qs.none()
    live = FollowRelation.objects.filter(
        customer=OuterRef("pk"), status=FollowRelation.Status.ACTIVE
    )
    return qs.filter(Exists(live.filter(scope.q("staff"))))


def customer_list(
    *,
    user,
    tag: int | None = None,
    ring: str | None = None,
    channel: int | None = None,
    channel_type: str | None = None,
    staff: str | None = None,
    verified: bool | None = None,
    added_from: date | None = None,
    added_to: date | None = None,
    q: str | None = None,
) -> QuerySet[Customer]:
    """Customers the user may see, filtered (tag id, ring, first channel, staff userid,
    verified, first-added date range)."""
    qs = customers_visible_to(user).select_related("first_channel", "bank_record")
    if tag is not None:
        # (customer, tag) is unique, so this join cannot repeat a customer.
        qs = qs.filter(tags__tag_id=tag)
    if ring:
        qs = qs.filter(ring=ring)
    if channel is not None:
        qs = qs.filter(first_channel_id=channel)
    if channel_type:
        qs = qs.filter(first_channel__channel_type=channel_type)
    if staff:
        qs = qs.filter(
            Exists(
                FollowRelation.objects.filter(
                    customer=OuterRef("pk"),
                    staff__userid=staff,
                    status=FollowRelation.Status.ACTIVE,
                )
            )
        )
    if verified is not None:
        qs = qs.filter(verified_at__isnull=not verified)
    if added_from:
        qs = qs.filter(first_added_at__date__gte=added_from)
    if added_to:
        qs = qs.filter(first_added_at__date__lte=added_to)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(external_userid=q))
    return qs.order_by("-created_at", "-id")


def customer_timeline(*, customer: Customer, limit: int = 50) -> QuerySet[TimelineEntry]:
    return customer.timeline.select_related("staff").order_by("-at", "-id")[:limit]


def bank_record_by_phone_hash(phone_hash: str) -> BankRecord | None:
    return BankRecord.objects.filter(phone_hash=phone_hash).order_by("customer_no").first()
