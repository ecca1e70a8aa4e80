"""Reconcile the database with WeCom: tags, staff, customers, follow relations, groups.

Idempotent: a second run with nothing changed in WeCom reports zero changes.
Pages through WeCom (batch/get_by_user, groupchat/list) so it scales to a bank.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from .adapter import wecom

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        if n:
            self.counts[key] = self.counts.get(key, 0) + n

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))

    def __str__(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self.as_dict().items()) or "no changes"


def sync_tags(report: SyncReport) -> None:
    from tagging.services import tag_groups_upsert_from_wecom

    result = tag_groups_upsert_from_wecom(tag_groups=wecom.corp_tags(), full=True)
    for key, value in result.as_dict().items():
        report.add(key if key.startswith("tags_") else f"tag_{key}", value)


def sync_staff(report: SyncReport) -> list[str]:
    from contacts.models import Staff
    from contacts.services import staff_upsert

    userids = wecom.follow_users()
    known = set(Staff.objects.filter(userid__in=userids).values_list("userid", flat=True))
    for userid in userids:
        if userid not in known:
            staff_upsert(userid=userid, name=wecom.user_get(userid).get("name", ""))
            report.add("staff_created")
    report.add(
        "staff_follow_enabled",
        Staff.objects.filter(userid__in=userids, is_follow_user=False).update(is_follow_user=True),
    )
    report.add(
        "staff_follow_disabled",
        Staff.objects.filter(is_follow_user=True)
        .exclude(userid__in=userids)
        .update(is_follow_user=False),
    )
    return userids


def sync_customers(report: SyncReport, userids: list[str]) -> None:
    """Customers and follow relations of every follow user; relations WeCom no longer has end."""
    from contacts.models import Customer, FollowRelation, Staff
    from contacts.selectors import follow_relations_open
    from contacts.services import (
        customer_channel_attribute,
        customer_upsert_from_wecom,
        follow_relation_upsert,
        wecom_time,
    )
    from tagging.services import customer_tags_mirror_from_wecom

    staff = {s.userid: s for s in Staff.objects.filter(userid__in=userids)}
    seen: set[tuple[int, int]] = set()
    tags_by_customer: dict[int, set[str]] = {}
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
        report.add("follows_created", int(created))
        seen.add((customer.pk, relation.staff_id))
        tags_by_customer.setdefault(customer.pk, set()).update(
            str(t) for t in info.get("tag_id") or []
        )
    report.add("customers_created", Customer.objects.count() - before)
    for customer in Customer.objects.filter(pk__in=list(tags_by_customer)):
        added, removed = customer_tags_mirror_from_wecom(
            customer=customer, wecom_tag_ids=tags_by_customer[customer.pk]
        )
        report.add("customer_tags_added", added)
        report.add("customer_tags_removed", removed)
    stale = [
        pk
        for pk, customer_id, staff_id in follow_relations_open(staff_userids=userids).values_list(
            "pk", "customer_id", "staff_id"
        )
        if (customer_id, staff_id) not in seen
    ]
    if stale:
        report.add(
            "follows_ended",
            FollowRelation.objects.filter(pk__in=stale).update(
                status=FollowRelation.Status.REMOVED_BY_STAFF, removed_at=timezone.now()
            ),
        )


def sync_groups(report: SyncReport, userids: list[str]) -> None:
    from groups.models import CustomerGroup
    from groups.sync import group_sync

    seen = set()
    for item in wecom.group_chats(owners=userids or None):
        group, result = group_sync(chat_id=item["chat_id"])
        seen.add(group.chat_id)
        report.add("groups_created", int(result.created))
        report.add("group_members_added", result.members_added)
        report.add("group_members_removed", result.members_removed)
    if userids:
        report.add(
            "groups_dismissed",
            CustomerGroup.objects.filter(
                owner_userid__in=userids, status=CustomerGroup.Status.NORMAL
            )
            .exclude(chat_id__in=seen)
            .update(status=CustomerGroup.Status.DISMISSED, dismissed_at=timezone.now()),
        )


def wecom_sync_all() -> SyncReport:
    """The nightly reconciliation (also ``manage.py wecom_sync``)."""
    report = SyncReport()
    sync_tags(report)
    userids = sync_staff(report)
    sync_customers(report, userids)
    sync_groups(report, userids)
    return report
