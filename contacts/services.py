"""Writes on staff, customers and follow relations, mostly mirrored from WeCom (D1, D2).

Every service is idempotent: WeCom retries callbacks and the inbox may run a
handler twice, so upserts key on WeCom ids and timeline entries carry a
``dedupe_key``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from scrm.core.errors import DomainError
from scrm.wecom.values import wecom_time
from scrm.workspace.models import ManagerTask
from scrm.workspace.services import task_ensure

from . import hooks
from .links import join_token_make
from .models import ChannelCode, Customer, FollowRelation, Staff, TimelineEntry

logger = logging.getLogger(__name__)


@transaction.atomic
def staff_upsert(*, userid: str, name: str = "", position: str = "") -> Staff:
    """The staff member with this WeCom userid, created if new (name defaults to the id)."""
    if not userid:
        raise DomainError("staff_userid_missing", "成员账号不能为空")
    staff, created = Staff.objects.get_or_create(
        userid=userid, defaults={"name": name or userid, "position": position}
    )
    changed = []
    if not created and name and staff.name != name:
        staff.name = name
        changed.append("name")
    if not created and position and staff.position != position:
        staff.position = position
        changed.append("position")
    if changed:
        staff.save(update_fields=[*changed, "updated_at"])
    return staff


@transaction.atomic
def staff_follow_users_enable(*, userids: list[str]) -> int:
    """Mark these staff members as WeCom follow users; how many were not yet."""
    return Staff.objects.filter(userid__in=userids, is_follow_user=False).update(
        is_follow_user=True
    )


@transaction.atomic
def staff_follow_users_disable(*, userids: list[str]) -> int:
    """WeCom no longer lists these staff members as follow users; how many were."""
    return Staff.objects.filter(userid__in=userids, is_follow_user=True).update(
        is_follow_user=False
    )


@transaction.atomic
def staff_mark_left(*, userid: str, at: datetime | None = None) -> Staff | None:
    staff = Staff.objects.select_for_update().filter(userid=userid).first()
    if staff is None or staff.status == Staff.Status.LEFT:
        return staff
    staff.status = Staff.Status.LEFT
    staff.left_at = at or timezone.now()
    staff.save(update_fields=["status", "left_at", "updated_at"])
    return staff


_CONTACT_FIELDS = ("name", "avatar", "corp_name", "corp_full_name", "unionid")


@transaction.atomic
def customer_upsert_from_wecom(
    *, contact: dict, at: datetime | None = None
) -> tuple[Customer, bool]:
    """Create or refresh a customer from WeCom's ``external_contact`` object."""
    external_userid = contact.get("external_userid") or ""
    if not external_userid:
        raise DomainError("customer_id_missing", "外部联系人ID不能为空")
    now = timezone.now()
    customer, created = Customer.objects.select_for_update().get_or_create(
        external_userid=external_userid,
        defaults={
            **{
                f: str(contact.get(f) or "")[: Customer._meta.get_field(f).max_length]
                for f in _CONTACT_FIELDS
            },
            "type": int(contact.get("type") or Customer.Type.WECHAT),
            "gender": int(contact.get("gender") or 0),
            "first_added_at": at,
            "wecom_synced_at": now,
        },
    )
    if created:
        return customer, True
    if customer.status == Customer.Status.ERASED:
        return customer, False  # D14: personal data erased on request is never copied back
    for f in _CONTACT_FIELDS:
        setattr(customer, f, str(contact.get(f) or "")[: Customer._meta.get_field(f).max_length])
    customer.type = int(contact.get("type") or customer.type)
    customer.gender = int(contact.get("gender") or 0)
    customer.wecom_synced_at = now
    if customer.first_added_at is None and at is not None:
        customer.first_added_at = at
    customer.save()
    return customer, False


@transaction.atomic
def follow_relation_upsert(
    *, customer: Customer, staff: Staff, info: dict, status: str = FollowRelation.Status.ACTIVE
) -> tuple[FollowRelation, bool]:
    """The customer ↔ staff relation with WeCom's per-relation fields (``follow_user`` item)."""
    values = {
        "remark": str(info.get("remark") or "")[:128],
        "description": str(info.get("description") or "")[:256],
        "remark_corp_name": str(info.get("remark_corp_name") or "")[:128],
        "add_way": int(info.get("add_way") or 0),
        "oper_userid": str(info.get("oper_userid") or "")[:64],
    }
    added_at = wecom_time(info.get("createtime"))
    relation, created = FollowRelation.objects.select_for_update().get_or_create(
        customer=customer,
        staff=staff,
        defaults={
            **values,
            "state": str(info.get("state") or "")[:64],
            "added_at": added_at,
            "status": status,
        },
    )
    if created:
        _remark_mobiles_update(relation, info)
        return relation, True
    for key, value in values.items():
        setattr(relation, key, value)
    if info.get("state"):
        relation.state = str(info["state"])[:64]
    # A half relation becomes active when confirmed, never the other way round.
    if not (
        status == FollowRelation.Status.HALF and relation.status == FollowRelation.Status.ACTIVE
    ):
        if relation.status != status and status == FollowRelation.Status.ACTIVE:
            relation.removed_at = None
        relation.status = status
    if added_at and (relation.added_at is None or relation.status == FollowRelation.Status.ACTIVE):
        relation.added_at = added_at
    relation.save()
    if customer.status == Customer.Status.LOST and relation.status == FollowRelation.Status.ACTIVE:
        Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.ACTIVE)
    _remark_mobiles_update(relation, info)
    return relation, False


def _remark_mobiles_update(relation: FollowRelation, info: dict) -> None:
    """Keep WeCom's remark mobiles (encrypted, hashed) and verify by them (D4)."""
    if "remark_mobiles" not in info:
        return  # not part of this payload: keep what we have
    from .bank import follow_set_remark_mobiles
    from .crypto import phone_normalize

    wanted = sorted(
        {p for p in (phone_normalize(str(m)) for m in info.get("remark_mobiles") or []) if p}
    )
    if ",".join(wanted) != (relation.remark_mobiles or "") or (
        wanted and relation.customer.verified_at is None
    ):
        follow_set_remark_mobiles(follow=relation, mobiles=wanted)


# What ends a relation, as the customer's timeline says it (kind, summary).
_RELATION_ENDED = {
    FollowRelation.Status.REMOVED_BY_STAFF: ("removed_by_staff", "员工删除了客户"),
    FollowRelation.Status.REMOVED_BY_CUSTOMER: ("removed_by_customer", "客户删除了员工"),
    FollowRelation.Status.TRANSFERRED: ("customer_transferred", "客户已转接给其他员工"),
}


@transaction.atomic
def follow_relation_end(
    *,
    external_userid: str,
    userid: str,
    status: str,
    at: datetime | None = None,
    source: str = "",
) -> FollowRelation | None:
    """Staff removed the customer, the customer removed staff, or a transfer moved them.

    One path for every cause (a callback, the nightly reconcile, a transfer): the
    relation's status and end time, a timeline entry, and the customer lost when no
    live relation is left. Ending an ended relation again changes nothing.
    """
    relation = (
        FollowRelation.objects.select_for_update()
        .select_related("customer", "staff")
        .filter(customer__external_userid=external_userid, staff__userid=userid)
        .first()
    )
    if relation is None:
        return None
    if relation.status != status:
        relation.status = status
        relation.removed_at = at or timezone.now()
        relation.save(update_fields=["status", "removed_at", "updated_at"])
        kind, summary = _RELATION_ENDED.get(status, ("relation_ended", "客户关系已结束"))
        timeline_add(
            customer=relation.customer,
            kind=kind,
            at=relation.removed_at,
            staff=relation.staff,
            summary=summary,
            data={"source": source},
            dedupe_key=f"{kind}:{relation.pk}:{int(relation.removed_at.timestamp())}",
        )
        hooks.follow_relation_ended.call(relation=relation, status=status, at=relation.removed_at)
    still_followed = FollowRelation.objects.filter(
        customer_id=relation.customer_id,
        status__in=[FollowRelation.Status.ACTIVE, FollowRelation.Status.HALF],
    ).exists()
    if not still_followed:
        Customer.objects.filter(pk=relation.customer_id, status=Customer.Status.ACTIVE).update(
            status=Customer.Status.LOST
        )
    return relation


@transaction.atomic
def customer_channel_attribute(
    *, customer: Customer, state: str, at: datetime | None = None
) -> ChannelCode | None:
    """D2: the first channel is kept for good; later channels only reach the timeline."""
    if not state:
        return None
    channel = ChannelCode.objects.filter(state=state).first()
    if not customer.first_state and customer.first_channel_id is None:
        Customer.objects.filter(pk=customer.pk, first_state="", first_channel__isnull=True).update(
            first_state=state[:64], first_channel=channel
        )
        customer.first_state, customer.first_channel = state[:64], channel
    return channel


def timeline_add(
    *,
    customer: Customer,
    kind: str,
    at: datetime | None = None,
    summary: str = "",
    staff: Staff | None = None,
    data: dict | None = None,
    dedupe_key: str | None = None,
) -> bool:
    """Add a timeline entry; False if one with this ``dedupe_key`` already exists."""
    if dedupe_key and TimelineEntry.objects.filter(dedupe_key=dedupe_key).exists():
        return False
    try:
        with transaction.atomic():
            TimelineEntry.objects.create(
                customer=customer,
                kind=kind,
                at=at or timezone.now(),
                summary=summary[:255],
                staff=staff,
                data=data or {},
                dedupe_key=dedupe_key[:191] if dedupe_key else None,
            )
    except IntegrityError:
        return False  # the same event, written concurrently by a redelivered task
    return True


def customer_sync_from_wecom(
    *, result: dict, staff_by_userid: dict[str, Staff] | None = None
) -> Customer:
    """Upsert a customer and every follow relation from ``externalcontact/get``."""
    staff_by_userid = staff_by_userid or {}
    follow = result.get("follow_user") or []
    first_at = min(
        (t for t in (wecom_time(f.get("createtime")) for f in follow) if t), default=None
    )
    with transaction.atomic():
        customer, _created = customer_upsert_from_wecom(
            contact=result.get("external_contact") or {}, at=first_at
        )
        for info in sorted(follow, key=lambda f: int(f.get("createtime") or 0)):
            staff = staff_by_userid.get(info["userid"]) or staff_upsert(userid=info["userid"])
            follow_relation_upsert(customer=customer, staff=staff, info=info)
            if info.get("state"):
                customer_channel_attribute(
                    customer=customer, state=info["state"], at=wecom_time(info.get("createtime"))
                )
        corp_tag_ids = {
            str(t["tag_id"])
            for f in follow
            for t in (f.get("tags") or [])
            if int(t.get("type") or 1) == 1 and t.get("tag_id")
        }
        corp_tag_ids |= {str(t) for f in follow for t in (f.get("tag_id") or [])}
        hooks.customer_wecom_tags.call(customer=customer, wecom_tag_ids=corp_tag_ids)
    return customer


def customer_welcome_send(
    *,
    customer: Customer,
    staff: Staff,
    channel: ChannelCode,
    welcome_code: str,
    event_key: str,
    relation: FollowRelation | None = None,
) -> bool:
    """Send the channel's welcome with the one-time code (at most once per event).

    Text with the customer's and manager's names, the approved content's
    attachments and, for a channel with a group invite, the customer's personal
    join link (D3, D5). When the code is spent or expired, or the join link
    cannot be made, a follow-up record says so: a timeline entry and a task for
    the manager.
    """
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WELCOME_CODE_ERRCODES, WeComPermanentError

    from .channels import channel_welcome_payload, join_link_url

    done_key = f"welcome:{event_key}"
    if TimelineEntry.objects.filter(
        dedupe_key__in=[done_key, f"welcome-failed:{event_key}"]
    ).exists():
        return False
    join_url = ""
    if channel.invite_pool_id:
        try:
            join_url = join_link_url(
                token=join_token_make(external_userid=customer.external_userid), channel=channel
            )
        except DomainError as exc:
            customer_follow_up_note(
                customer=customer,
                staff=staff,
                relation=relation,
                kind="join_link_failed",
                summary=f"入群链接生成失败（{exc.message}），请客户经理手动邀请入群",
                data={"code": exc.code, "channel_id": channel.pk},
                event_key=event_key,
            )
    try:
        payload = channel_welcome_payload(
            channel=channel, customer=customer, staff=staff, join_url=join_url
        )
    except DomainError as exc:
        # The content lost its approval (or no longer fits): greet with the text alone.
        logger.warning("welcome content not sendable", extra={"code": exc.code})
        payload = channel_welcome_payload(
            channel=_without_content(channel), customer=customer, staff=staff, join_url=join_url
        )
    if not payload.get("text") and not payload.get("attachments"):
        return False
    try:
        wecom.welcome_msg_send(
            welcome_code,
            text=(payload.get("text") or {}).get("content", ""),
            attachments=payload.get("attachments"),
        )
    except WeComPermanentError as exc:
        if exc.errcode not in WELCOME_CODE_ERRCODES:
            raise
        # The code expired or was used: the manager has to greet the customer by hand.
        customer_follow_up_note(
            customer=customer,
            staff=staff,
            relation=relation,
            kind="welcome_failed",
            summary=f"欢迎语发送失败（{exc.errcode}），请客户经理手动问候",
            data={"errcode": exc.errcode, "channel_id": channel.pk},
            event_key=event_key,
            dedupe_key=f"welcome-failed:{event_key}",
        )
        return False
    timeline_add(
        customer=customer,
        kind="welcome_sent",
        staff=staff,
        summary=f"已发送渠道「{channel.name}」欢迎语",
        data={"channel_id": channel.pk, "join_link": bool(join_url)},
        dedupe_key=done_key,
    )
    return True


def _without_content(channel: ChannelCode) -> ChannelCode:
    copy = ChannelCode.objects.get(pk=channel.pk)
    copy.welcome_content_id = None
    return copy


def customer_follow_up_note(
    *,
    customer: Customer,
    staff: Staff,
    kind: str,
    summary: str,
    event_key: str,
    relation: FollowRelation | None = None,
    data: dict | None = None,
    dedupe_key: str | None = None,
) -> None:
    """Something automatic did not happen: a timeline entry and a task for the manager (D11)."""
    timeline_add(
        customer=customer,
        kind=kind,
        staff=staff,
        summary=summary,
        data=data or {},
        dedupe_key=dedupe_key or f"{kind}:{event_key}",
    )
    key = f"{kind}:{relation.pk}" if relation is not None else f"{kind}:{event_key}"
    task_ensure(
        staff=staff,
        kind=kind if kind in ManagerTask.Kind.values else ManagerTask.Kind.NEW_FRIEND,
        title=f"{summary[:60]}：{customer.name or customer.external_userid}",
        detail=summary,
        dedupe_key=key[:191],
        due_date=timezone.localdate(),
        customer=customer,
        priority=20,
    )


def new_friend_task_ensure(*, relation: FollowRelation, channel: ChannelCode | None = None) -> bool:
    """D11: a "new friend" follow-up for the manager; the same key the daily rule uses."""
    customer = relation.customer
    if customer.marketing_opt_out:
        return False
    added = relation.added_at or timezone.now()
    _task, created = task_ensure(
        staff=relation.staff,
        kind=ManagerTask.Kind.NEW_FRIEND,
        title=f"新好友跟进：{customer.name or customer.external_userid}",
        detail=f"{timezone.localtime(added):%m-%d} 添加"
        + (f"，渠道：{channel.name}" if channel else ""),
        dedupe_key=f"new_friend:{relation.pk}",
        due_date=max(timezone.localtime(added).date(), timezone.localdate()),
        customer=customer,
        priority=10,
    )
    return created


def customer_channel_tags_apply(
    *, customer: Customer, channel: ChannelCode, staff: Staff | None = None
) -> int:
    """D2/D9: what comes with the channel (its tags, applied by tagging) on the customer."""
    return sum(
        int(n or 0)
        for n in hooks.customer_channel_attributed.call(
            customer=customer, channel=channel, staff=staff
        )
    )
