"""Reads of the groups app. ``groups_visible_to`` applies the one access rule
(``scrm.core.access``) to customer groups; the API and the admin both start from it."""

from __future__ import annotations

from django.db.models import (
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, NullIf

from scrm.core.access import scope_filter

from .models import CustomerGroup, GroupPool, Region

# WeCom lets 200 people join a group by QR code; a group outside any pool has that limit.
DEFAULT_GROUP_CAPACITY = 200


def groups_visible_to(*, user) -> QuerySet[CustomerGroup]:
    """Groups in the person's scope (``scrm.core.access``): ops every group, a branch
    manager their branch's (and their own), a customer manager their own."""
    return scope_filter(CustomerGroup.objects.all(), user, staff_path="owner")


def groups_with_fill(qs: QuerySet[CustomerGroup]) -> QuerySet[CustomerGroup]:
    """Adds ``capacity`` (the pool's QR limit) and ``fill`` (members / capacity)."""
    capacity = Coalesce(F("pool__capacity"), Value(DEFAULT_GROUP_CAPACITY))
    return qs.annotate(capacity=ExpressionWrapper(capacity, output_field=IntegerField())).annotate(
        fill=ExpressionWrapper(
            Cast("member_count", FloatField()) / Cast(NullIf(F("capacity"), 0), FloatField()),
            output_field=FloatField(),
        )
    )


def group_list(
    *,
    user,
    region: str | None = None,
    owner: str | None = None,
    status: str | None = None,
    pool: int | None = None,
    fill_min: float | None = None,
    fill_max: float | None = None,
) -> QuerySet[CustomerGroup]:
    """Groups the user may see, filtered. ``region`` is a region code and takes in
    the regions below it (a province lists its cities' groups)."""
    qs = groups_with_fill(groups_visible_to(user=user)).select_related("owner", "pool", "region")
    if region:
        qs = qs.filter(
            Q(region__code=region)
            | Q(region__parent__code=region)
            | Q(region__parent__parent__code=region)
        )
    if owner:
        qs = qs.filter(owner_userid=owner)
    if status:
        qs = qs.filter(status=status)
    if pool is not None:
        qs = qs.filter(pool_id=pool)
    if fill_min is not None:
        qs = qs.filter(fill__gte=fill_min)
    if fill_max is not None:
        qs = qs.filter(fill__lte=fill_max)
    return qs.order_by("-fill", "name", "id")


def pools_with_fill(qs: QuerySet[GroupPool] | None = None) -> QuerySet[GroupPool]:
    """Adds ``group_count`` and ``fill`` (members over capacity of its live groups)."""
    qs = GroupPool.objects.all() if qs is None else qs
    live = Q(groups__status=CustomerGroup.Status.NORMAL)
    return qs.annotate(
        group_count=Count("groups", filter=live),
        member_total=Coalesce(Sum("groups__member_count", filter=live), 0),
    ).annotate(
        fill=ExpressionWrapper(
            Cast("member_total", FloatField())
            / Cast(NullIf(F("group_count") * F("capacity"), 0), FloatField()),
            output_field=FloatField(),
        )
    )


def regions_with_counts(qs: QuerySet[Region] | None = None) -> QuerySet[Region]:
    """Adds child and pool counts, and how many live groups are dormant or dying (D6)."""
    qs = Region.objects.all() if qs is None else qs
    live = Q(groups__status=CustomerGroup.Status.NORMAL)
    return qs.annotate(
        child_count=Count("children", distinct=True),
        pool_count=Count("pools", filter=Q(pools__is_active=True), distinct=True),
        dormant_count=Count(
            "groups", filter=live & Q(groups__health=CustomerGroup.Health.DORMANT), distinct=True
        ),
        dying_count=Count(
            "groups", filter=live & Q(groups__health=CustomerGroup.Health.DYING), distinct=True
        ),
    )


def pools_with_rollover(qs: QuerySet[GroupPool] | None = None) -> QuerySet[GroupPool]:
    """``pools_with_fill`` plus ``open_count``: live groups below the pool's capacity."""
    live = Q(groups__status=CustomerGroup.Status.NORMAL)
    return pools_with_fill(qs).annotate(
        open_count=Count("groups", filter=live & Q(groups__member_count__lt=F("capacity")))
    )
