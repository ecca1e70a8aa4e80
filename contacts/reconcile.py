"""The nightly reconcile's contacts steps: staff (follow users) and customers with relations.

Registered with ``scrm.wecom.sync`` from ``ContactsConfig.ready``. Each pull reads
WeCom and upserts through ``contacts.services``; what WeCom no longer lists is
collected into the run's context and ended by the step's end, after the
reconcile's mass-removal guard let the run through.

The customers step leaves the WeCom corp tag ids it read per customer under
:data:`CUSTOMER_WECOM_TAG_IDS` for the tagging step that runs after it.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from scrm.wecom.adapter import wecom
from scrm.wecom.sync import ReconcileContext
from scrm.wecom.values import wecom_time

from .models import Customer, FollowRelation, Staff
from .selectors import follow_relations_open
from .services import (
    customer_channel_attribute,
    customer_upsert_from_wecom,
    follow_relation_end,
    follow_relation_upsert,
    staff_follow_users_disable,
    staff_follow_users_enable,
    staff_upsert,
)

# ctx.shared key: {customer pk: (customer, {WeCom corp tag id, ...})} of every customer read.
CUSTOMER_WECOM_TAG_IDS = "contacts.customer_wecom_tag_ids"

STAFF = "staff"
RELATIONS = "relations"


# --------------------------------------------------------------------------- steps


def staff_pull(ctx: ReconcileContext) -> None:
    """Follow users: new ones created with their WeCom name; those WeCom dropped collected."""
    userids = wecom.follow_users()
    known = set(Staff.objects.filter(userid__in=userids).values_list("userid", flat=True))
    for userid in userids:
        if userid not in known:
            staff_upsert(userid=userid, name=wecom.user_get(userid).get("name", ""))
            ctx.report.add("staff_created")
    ctx.report.add("staff_follow_enabled", staff_follow_users_enable(userids=userids))
    following = Staff.objects.filter(is_follow_user=True)
    removal = ctx.removal(STAFF)
    removal.active = following.count()
    removal.items = list(following.exclude(userid__in=userids).values_list("userid", flat=True))
    ctx.follow_userids = userids


def staff_end(ctx: ReconcileContext) -> None:
    userids = ctx.removal(STAFF).items
    if userids:
        ctx.report.add("staff_follow_disabled", staff_follow_users_disable(userids=userids))


def customers_pull(ctx: ReconcileContext) -> None:
    """Customers and follow relations of every follow user; those WeCom lacks are collected."""
    userids = ctx.follow_userids
    staff = {s.userid: s for s in Staff.objects.filter(userid__in=userids)}
    seen: set[tuple[int, int]] = set()
    tags: dict[int, tuple[Customer, set[str]]] = ctx.shared.setdefault(CUSTOMER_WECOM_TAG_IDS, {})
    before = Customer.objects.count()
    for item in wecom.customers_by_user(userids):
        contact, info = item.get("external_contact") or {}, item.get("follow_info") or {}
        at = wecom_time(info.get("createtime"))
        with transaction.atomic():
            customer, _created = customer_upsert_from_wecom(contact=contact, at=at)
            relation, created = follow_relation_upsert(
                customer=customer, staff=staff[info["userid"]], info=info
            )
            if info.get("state"):
                customer_channel_attribute(customer=customer, state=info["state"], at=at)
        ctx.report.add("follows_created", int(created))
        seen.add((customer.pk, relation.staff_id))
        tags.setdefault(customer.pk, (customer, set()))[1].update(
            str(t) for t in info.get("tag_id") or []
        )
    ctx.report.add("customers_created", Customer.objects.count() - before)
    removal = ctx.removal(RELATIONS)
    removal.active = FollowRelation.objects.filter(
        status__in=[FollowRelation.Status.ACTIVE, FollowRelation.Status.HALF]
    ).count()
    removal.lost = follow_relations_open(staff_userids=ctx.removal(STAFF).items).count()
    removal.items = [
        (ext, userid)
        for customer_id, staff_id, ext, userid in follow_relations_open(
            staff_userids=userids
        ).values_list("customer_id", "staff_id", "customer__external_userid", "staff__userid")
        if (customer_id, staff_id) not in seen
    ]


def customers_end(ctx: ReconcileContext) -> None:
    at = ctx.ended_at or timezone.now()
    for ext, userid in ctx.removal(RELATIONS).items:
        relation = follow_relation_end(
            external_userid=ext,
            userid=userid,
            status=FollowRelation.Status.REMOVED_BY_STAFF,
            at=at,
        )
        ctx.report.add("follows_ended", int(relation is not None))
