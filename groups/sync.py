"""Mirror WeCom customer groups (``groupchat/get``) into CustomerGroup/GroupMember.

Group callbacks can arrive out of order or be lost, so handlers never apply a
callback's delta: they re-read the group and reconcile. Two syncs of one group
are serialised by a lock taken *before* the read, so a read that started later
is never overwritten by an older one; each actual change of the member list is
written once as a ``GroupMemberChange`` (the source of joins and leaves).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from contacts.models import Customer, Staff
from scrm.wecom.values import wecom_time

from . import hooks
from .models import CustomerGroup, GroupMember, GroupMemberChange


@dataclass
class GroupSyncResult:
    created: bool = False
    members_added: int = 0
    members_removed: int = 0
    members_skipped: bool = False
    # Customers who joined in this reconcile (userids), for the gate (D4).
    joined_customers: list[str] = field(default_factory=list)


_MEMBER_FIELDS = (
    "member_type",
    "customer_id",
    "unionid",
    "name",
    "group_nickname",
    "invitor_userid",
    "join_time",
    "join_scene",
    "is_active",
    "left_at",
    "quit_scene",
)


@transaction.atomic
def group_upsert_from_wecom(
    *, chat: dict, state: str = ""
) -> tuple[CustomerGroup, GroupSyncResult]:
    """Create or refresh a group and its members from a ``group_chat`` object.

    ``state``: the join way's state of the callback that caused the read, for the hooks."""
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
    _members_reconcile(group, members, now, result, state=state)
    CustomerGroup.objects.filter(pk=group.pk).update(
        member_version=str(chat.get("member_version") or "")[:64]
    )
    return group, result


def _member_values(item: dict, customers: dict[str, int]) -> dict:
    return {
        "member_type": int(item.get("type") or GroupMember.MemberType.CUSTOMER),
        "customer_id": customers.get(item["userid"]),
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


def _members_reconcile(
    group: CustomerGroup, members: list[dict], now, result: GroupSyncResult, *, state: str = ""
) -> None:
    """Write only what differs: a 200-member group re-read after one join costs one insert."""
    existing = {m.userid: m for m in GroupMember.objects.filter(group=group)}
    customer_ids = [
        m["userid"] for m in members if int(m.get("type") or 0) == GroupMember.MemberType.CUSTOMER
    ]
    customers = dict(
        Customer.objects.filter(external_userid__in=customer_ids).values_list(
            "external_userid", "id"
        )
    )
    new_rows: list[GroupMember] = []
    changed: list[GroupMember] = []
    changes: list[GroupMemberChange] = []
    seen = set()
    for item in members:
        userid = item["userid"]
        seen.add(userid)
        values = _member_values(item, customers)
        member = existing.get(userid)
        joined = member is None or not member.is_active
        if member is None:
            new_rows.append(GroupMember(group=group, userid=userid, **values))
        elif any(getattr(member, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(member, key, value)
            changed.append(member)
        if joined:
            result.members_added += 1
            if values["member_type"] == GroupMember.MemberType.CUSTOMER:
                result.joined_customers.append(userid)
            changes.append(
                GroupMemberChange(
                    group=group,
                    userid=userid,
                    member_type=values["member_type"],
                    kind=GroupMemberChange.Kind.JOIN,
                    scene=values["join_scene"],
                    at=values["join_time"] or now,
                )
            )
    gone = [m for uid, m in existing.items() if uid not in seen and m.is_active]
    for member in gone:
        changes.append(
            GroupMemberChange(
                group=group,
                userid=member.userid,
                member_type=member.member_type,
                kind=GroupMemberChange.Kind.LEAVE,
                at=now,
            )
        )
    if new_rows:
        GroupMember.objects.bulk_create(new_rows)
    if changed:
        GroupMember.objects.bulk_update(changed, _MEMBER_FIELDS)
    if gone:
        GroupMember.objects.filter(pk__in=[m.pk for m in gone]).update(is_active=False, left_at=now)
    if changes:
        GroupMemberChange.objects.bulk_create(changes)
    result.members_removed = len(gone)
    _members_hooks(group, changes, customers, existing, state=state)


def _members_hooks(
    group: CustomerGroup,
    changes: list[GroupMemberChange],
    customers: dict[str, int],
    existing: dict[str, GroupMember],
    *,
    state: str,
) -> None:
    """Tell the apps above about each customer who joined or left (``groups.hooks``)."""
    ids: dict[str, int] = {}
    for change in changes:
        if change.member_type != GroupMember.MemberType.CUSTOMER:
            continue
        old = existing.get(change.userid)
        customer_id = customers.get(change.userid) or (old.customer_id if old else None)
        if customer_id:
            ids[change.userid] = customer_id
    if not ids:
        return
    by_id = Customer.objects.in_bulk(set(ids.values()))
    for change in changes:
        customer = by_id.get(ids.get(change.userid, 0))
        if customer is None:
            continue
        if change.kind == GroupMemberChange.Kind.JOIN:
            hooks.member_joined.call(
                group=group,
                customer=customer,
                joined_at=change.at,
                join_scene=change.scene,
                state=state,
            )
        else:
            hooks.member_left.call(group=group, customer=customer, left_at=change.at)


@transaction.atomic
def group_mark_dismissed(*, chat_id: str, at=None) -> bool:
    return bool(
        CustomerGroup.objects.filter(chat_id=chat_id)
        .exclude(status=CustomerGroup.Status.DISMISSED)
        .update(status=CustomerGroup.Status.DISMISSED, dismissed_at=at or timezone.now())
    )


def _chat_lock(chat_id: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"groups.chat:{chat_id}"])


def group_sync(*, chat_id: str, state: str = "") -> tuple[CustomerGroup, GroupSyncResult]:
    """Re-read one group from WeCom and mirror it, one sync of a group at a time.

    The lock is held across the read: WeCom's ``member_version`` is opaque (not
    ordered), so the only way to never apply an older read over a newer one is
    to read in the order the writes happen.
    """
    from scrm.wecom.adapter import wecom

    with transaction.atomic():
        _chat_lock(chat_id)
        chat = wecom.group_chat_get(chat_id)
        return group_upsert_from_wecom(chat=chat, state=state)
