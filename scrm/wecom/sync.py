"""Reconcile the database with WeCom: tags, staff, customers, follow relations, groups.

Idempotent: a second run with nothing changed in WeCom reports zero changes.
Pages through WeCom (batch/get_by_user, groupchat/list) so it scales to a bank.

What WeCom has is added or updated as it is read. What WeCom seems to have lost
(staff no longer follow users, relations, groups) is only collected, then ended
in one step at the end through the same services a callback uses, so a relation
ended here marks the customer lost exactly as a ``del_external_contact`` does.
Before that step a guard checks the share: when WeCom's answer would end more
than ``WECOM_SYNC_MAX_REMOVAL_SHARE`` (and at least ``WECOM_SYNC_MIN_REMOVAL_ROWS``)
of any kind, the run ends nothing, records a :class:`ReconcileHold` and waits
for ops to confirm (``wecom_sync --confirm-mass-removal`` or the admin action).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .adapter import wecom

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    counts: dict[str, int] = field(default_factory=dict)
    held: ReconcileHoldInfo | None = None

    def add(self, key: str, n: int = 1) -> None:
        if n:
            self.counts[key] = self.counts.get(key, 0) + n

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))

    def __str__(self) -> str:
        text = ", ".join(f"{k}: {v}" for k, v in self.as_dict().items()) or "no changes"
        if self.held is not None:
            text += f"; HELD: {self.held.reason}"
        return text


@dataclass
class ReconcileHoldInfo:
    hold_id: int
    reason: str


@dataclass
class Removals:
    """What WeCom no longer has, collected during the run and ended at its end."""

    staff: list[str] = field(default_factory=list)  # userids
    relations: list[tuple[str, str]] = field(default_factory=list)  # external_userid, userid
    groups: list[str] = field(default_factory=list)  # chat ids
    active: dict[str, int] = field(default_factory=dict)
    # Open relations of staff WeCom no longer lists as follow users: not ended (the
    # relation may well live on in WeCom), but lost to us, so the guard counts them.
    orphaned_relations: int = 0

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            "staff": {"remove": len(self.staff), "active": self.active.get("staff", 0)},
            "relations": {
                "remove": len(self.relations) + self.orphaned_relations,
                "active": self.active.get("relations", 0),
            },
            "groups": {"remove": len(self.groups), "active": self.active.get("groups", 0)},
        }


_KIND_LABELS = {"staff": "员工", "relations": "客户关系", "groups": "客户群"}


def removal_too_large(*, remove: int, active: int) -> bool:
    """More than the allowed share of the active rows, and at least the minimum count."""
    if remove < settings.WECOM_SYNC_MIN_REMOVAL_ROWS:
        return False
    return remove > settings.WECOM_SYNC_MAX_REMOVAL_SHARE * max(active, 1)


def sync_tags(report: SyncReport) -> None:
    from tagging.services import tag_groups_upsert_from_wecom

    result = tag_groups_upsert_from_wecom(tag_groups=wecom.corp_tags(), full=True)
    for key, value in result.as_dict().items():
        report.add(key if key.startswith("tags_") else f"tag_{key}", value)


def sync_staff(report: SyncReport, removals: Removals) -> list[str]:
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
    following = Staff.objects.filter(is_follow_user=True)
    removals.active["staff"] = following.count()
    removals.staff = list(following.exclude(userid__in=userids).values_list("userid", flat=True))
    return userids


def sync_customers(report: SyncReport, userids: list[str], removals: Removals) -> None:
    """Customers and follow relations of every follow user; those WeCom lacks are collected."""
    from contacts.models import Customer, FollowRelation, Staff
    from contacts.selectors import follow_relations_open
    from contacts.services import (
        customer_channel_attribute,
        customer_upsert_from_wecom,
        follow_relation_upsert,
    )
    from tagging.services import customer_tags_mirror_from_wecom

    from .values import wecom_time

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
    removals.active["relations"] = FollowRelation.objects.filter(
        status__in=[FollowRelation.Status.ACTIVE, FollowRelation.Status.HALF]
    ).count()
    removals.orphaned_relations = follow_relations_open(staff_userids=removals.staff).count()
    removals.relations = [
        (ext, userid)
        for customer_id, staff_id, ext, userid in follow_relations_open(
            staff_userids=userids
        ).values_list("customer_id", "staff_id", "customer__external_userid", "staff__userid")
        if (customer_id, staff_id) not in seen
    ]


def sync_groups(report: SyncReport, userids: list[str], removals: Removals) -> None:
    from groups.models import CustomerGroup
    from groups.sync import group_sync

    seen = set()
    for item in wecom.group_chats(owners=userids or None):
        group, result = group_sync(chat_id=item["chat_id"])
        seen.add(group.chat_id)
        report.add("groups_created", int(result.created))
        report.add("group_members_added", result.members_added)
        report.add("group_members_removed", result.members_removed)
    normal = CustomerGroup.objects.filter(status=CustomerGroup.Status.NORMAL)
    removals.active["groups"] = normal.count()
    if userids:
        removals.groups = list(
            normal.filter(owner_userid__in=userids)
            .exclude(chat_id__in=seen)
            .values_list("chat_id", flat=True)
        )


def _hold(removals: Removals) -> ReconcileHoldInfo | None:
    """Record why the run ends nothing, once per distinct situation while unresolved."""
    from .models import ReconcileHold

    counts = removals.counts()
    large = [
        kind
        for kind, c in counts.items()
        if removal_too_large(remove=c["remove"], active=c["active"])
    ]
    if not large:
        return None
    share = settings.WECOM_SYNC_MAX_REMOVAL_SHARE
    reason = "；".join(
        f"企业微信返回的数据将结束 {counts[k]['remove']} / {counts[k]['active']} 个{_KIND_LABELS[k]}"
        for k in large
    ) + (
        f"（超过 {share:.0%} 的保护阈值）。这通常是配置问题（Secret 错误、应用缺少客户联系权限、"
        "接口返回空列表），本次同步未结束任何数据，请核实后确认执行。"
    )
    hold = ReconcileHold.objects.filter(resolved_at__isnull=True, counts=counts).first()
    if hold is None:
        hold = ReconcileHold.objects.create(reason=reason, counts=counts)
    logger.error("wecom reconcile held: mass removal", extra={"hold_id": hold.pk, "counts": counts})
    return ReconcileHoldInfo(hold_id=hold.pk, reason=reason)


def _end_removed(report: SyncReport, removals: Removals) -> None:
    """End what WeCom no longer has, through the services a callback uses."""
    from contacts.models import FollowRelation, Staff
    from contacts.services import follow_relation_end
    from groups.sync import group_mark_dismissed

    now = timezone.now()
    if removals.staff:
        report.add(
            "staff_follow_disabled",
            Staff.objects.filter(userid__in=removals.staff, is_follow_user=True).update(
                is_follow_user=False
            ),
        )
    for ext, userid in removals.relations:
        with transaction.atomic():
            relation = follow_relation_end(
                external_userid=ext,
                userid=userid,
                status=FollowRelation.Status.REMOVED_BY_STAFF,
                at=now,
            )
        report.add("follows_ended", int(relation is not None))
    for chat_id in removals.groups:
        report.add("groups_dismissed", int(group_mark_dismissed(chat_id=chat_id, at=now)))


def wecom_sync_all(*, confirm_mass_removal: bool = False, confirmed_by=None) -> SyncReport:
    """The nightly reconciliation (also ``manage.py wecom_sync``)."""
    from .models import ReconcileHold

    report = SyncReport()
    removals = Removals()
    sync_tags(report)
    userids = sync_staff(report, removals)
    sync_customers(report, userids, removals)
    sync_groups(report, userids, removals)
    if not confirm_mass_removal:
        report.held = _hold(removals)
        if report.held is not None:
            return report
    _end_removed(report, removals)
    ReconcileHold.objects.filter(resolved_at__isnull=True).update(
        resolved_at=timezone.now(),
        confirmed_by=confirmed_by if confirm_mass_removal else None,
        resolution="confirmed" if confirm_mass_removal else "cleared by a normal run",
    )
    return report


def check_reconcile() -> dict:
    """Health: failing while a reconcile is held, waiting for ops to confirm."""
    from .models import ReconcileHold

    hold = ReconcileHold.objects.filter(resolved_at__isnull=True).order_by("-created_at").first()
    if hold is None:
        return {"ok": True}
    return {
        "ok": False,
        "error": "reconcile held: mass removal awaits confirmation",
        "hold_id": hold.pk,
    }
