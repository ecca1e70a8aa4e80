"""Reads on customers and follow relations used by the WeCom sync and its handlers."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Customer, FollowRelation, Staff


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
