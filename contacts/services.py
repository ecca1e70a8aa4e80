"""Writes on staff, customers and follow relations, mostly mirrored from WeCom (D1, D2).

Every service is idempotent: WeCom retries callbacks and the inbox may run a
handler twice, so upserts key on WeCom ids and timeline entries carry a
``dedupe_key``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from scrm.core.errors import DomainError

from .models import ChannelCode, Customer, FollowRelation, Staff, TimelineEntry

logger = logging.getLogger(__name__)


def wecom_time(value: object) -> datetime | None:
    """WeCom's epoch seconds (int or string) as an aware datetime."""
    try:
        seconds = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None


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
    return relation, False


@transaction.atomic
def follow_relation_end(
    *, external_userid: str, userid: str, status: str, at: datetime | None = None
) -> FollowRelation | None:
    """Staff removed the customer, the customer removed staff, or a transfer moved them."""
    relation = (
        FollowRelation.objects.select_for_update()
        .filter(customer__external_userid=external_userid, staff__userid=userid)
        .first()
    )
    if relation is None:
        return None
    if relation.status != status:
        relation.status = status
        relation.removed_at = at or timezone.now()
        relation.save(update_fields=["status", "removed_at", "updated_at"])
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
        from tagging.services import customer_tags_mirror_from_wecom

        customer_tags_mirror_from_wecom(customer=customer, wecom_tag_ids=corp_tag_ids)
    return customer


def customer_welcome_send(
    *, customer: Customer, staff: Staff, channel: ChannelCode, welcome_code: str, event_key: str
) -> bool:
    """Send the channel's welcome text with the one-time code (at most once per event)."""
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WELCOME_CODE_ERRCODES, WeComPermanentError

    done_key = f"welcome:{event_key}"
    if TimelineEntry.objects.filter(
        dedupe_key__in=[done_key, f"welcome-failed:{event_key}"]
    ).exists():
        return False
    try:
        wecom.welcome_msg_send(welcome_code, text=channel.welcome_text)
    except WeComPermanentError as exc:
        if exc.errcode not in WELCOME_CODE_ERRCODES:
            raise
        # The code expired or was used: the manager has to greet the customer by hand.
        timeline_add(
            customer=customer,
            kind="welcome_failed",
            staff=staff,
            summary=f"欢迎语发送失败（{exc.errcode}），请客户经理手动问候",
            data={"errcode": exc.errcode, "channel_id": channel.pk},
            dedupe_key=f"welcome-failed:{event_key}",
        )
        return False
    timeline_add(
        customer=customer,
        kind="welcome_sent",
        staff=staff,
        summary=f"已发送渠道「{channel.name}」欢迎语",
        data={"channel_id": channel.pk},
        dedupe_key=done_key,
    )
    return True
