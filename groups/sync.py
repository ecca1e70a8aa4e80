"""Mirror WeCom customer groups (``groupchat/get``) into CustomerGroup/GroupMember.

Group callbacks can arrive out of order or be lost, so handlers never apply a
callback's delta: they re-read the group and reconcile, skipping the member
write when WeCom's ``member_version`` is the one already stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from contacts.models import Customer, Staff
from contacts.services import wecom_time

from .models import CustomerGroup, GroupMember


@dataclass
class GroupSyncResult:
    created: bool = False
    members_added: int = 0
    members_removed: int = 0
    members_skipped: bool = False


@transaction.atomic
def group_upsert_from_wecom(*, chat: dict) -> tuple[CustomerGroup, GroupSyncResult]:
    """Create or refresh a group and its members from a ``group_chat`` object."""
    now = timezone.now()
    result = GroupSyncResult()
    chat_id = chat["chat_id"]
    owner_userid = str(chat.get("owner") or "")
    owner = Staff.objects.filter(userid=owner_userid).first() if owner_userid else None
    members = chat.get("member_list") or []
    customers = sum(
        1 for m in members if int(m.get("type") or 0) == GroupMember.MemberType.CUSTOMER
    )
    values = {
        "name": str(chat.get("name") or "")[:128],
        "owner": owner,
        "owner_userid": owner_userid[:64],
        "admin_userids": [a.get("userid") for a in chat.get("admin_list") or []],
        "notice": str(chat.get("notice") or ""),
        "member_count": len(members),
        "customer_count": customers,
        "wecom_created_at": wecom_time(chat.get("create_time")),
        "status": CustomerGroup.Status.NORMAL,
        "dismissed_at": None,
        "synced_at": now,
    }
    group = CustomerGroup.objects.select_for_update().filter(chat_id=chat_id).first()
    if group is None:
        group = CustomerGroup.objects.create(chat_id=chat_id, **values)
        result.created = True
    else:
        version = str(chat.get("member_version") or "")
        if version and version == group.member_version:
            result.members_skipped = True
        for key, value in values.items():
            setattr(group, key, value)
        group.save()
        if result.members_skipped:
            return group, result
    added, removed = _members_reconcile(group, members, now)
    result.members_added, result.members_removed = added, removed
    CustomerGroup.objects.filter(pk=group.pk).update(
        member_version=str(chat.get("member_version") or "")[:64]
    )
    return group, result


def _members_reconcile(group: CustomerGroup, members: list[dict], now) -> tuple[int, int]:
    existing = {m.userid: m for m in GroupMember.objects.select_for_update().filter(group=group)}
    customer_ids = [
        m["userid"] for m in members if int(m.get("type") or 0) == GroupMember.MemberType.CUSTOMER
    ]
    customers = dict(
        Customer.objects.filter(external_userid__in=customer_ids).values_list(
            "external_userid", "id"
        )
    )
    added = 0
    seen = set()
    for item in members:
        userid = item["userid"]
        seen.add(userid)
        values = {
            "member_type": int(item.get("type") or GroupMember.MemberType.CUSTOMER),
            "customer_id": customers.get(userid),
            "unionid": str(item.get("unionid") or "")[:64],
            "name": str(item.get("name") or "")[:128],
            "group_nickname": str(item.get("group_nickname") or "")[:128],
            "invitor_userid": str((item.get("invitor") or {}).get("userid") or "")[:64],
            "join_time": wecom_time(item.get("join_time")),
            "join_scene": int(item["join_scene"]) if item.get("join_scene") is not None else None,
            "is_active": True,
            "left_at": None,
            "quit_scene": None,
        }
        member = existing.get(userid)
        if member is None:
            GroupMember.objects.create(group=group, userid=userid, **values)
            added += 1
            continue
        if not member.is_active:
            added += 1
        for key, value in values.items():
            setattr(member, key, value)
        member.save()
    gone = [m.pk for uid, m in existing.items() if uid not in seen and m.is_active]
    if gone:
        GroupMember.objects.filter(pk__in=gone).update(is_active=False, left_at=now)
    return added, len(gone)


@transaction.atomic
def group_mark_dismissed(*, chat_id: str, at=None) -> bool:
    return bool(
        CustomerGroup.objects.filter(chat_id=chat_id)
        .exclude(status=CustomerGroup.Status.DISMISSED)
        .update(status=CustomerGroup.Status.DISMISSED, dismissed_at=at or timezone.now())
    )


def group_sync(*, chat_id: str) -> tuple[CustomerGroup, GroupSyncResult]:
    """Re-read one group from WeCom (outside any transaction) and mirror it."""
    from scrm.wecom.adapter import wecom

    chat = wecom.group_chat_get(chat_id)
    return group_upsert_from_wecom(chat=chat)
