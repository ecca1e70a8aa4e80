"""Handlers for ``change_external_contact`` (and staff leaving): called by the inbox.

Each takes the callback's fields. API calls happen outside transactions; writes
go through ``contacts.services``, which are idempotent.
"""

from __future__ import annotations

import logging

from scrm.wecom.adapter import wecom
from scrm.wecom.errors import NOT_EXTERNAL_CONTACT, WeComPermanentError
from scrm.wecom.values import wecom_time

from . import hooks
from .models import FollowRelation, Staff
from .services import (
    customer_channel_attribute,
    customer_channel_tags_apply,
    customer_sync_from_wecom,
    customer_welcome_send,
    follow_relation_end,
    follow_relation_upsert,
    new_friend_task_ensure,
    staff_mark_left,
    staff_upsert,
    timeline_add,
)

logger = logging.getLogger(__name__)

# The customer is gone (or never was one): nothing to fetch, nothing to retry.
_GONE = {NOT_EXTERNAL_CONTACT, 40096, 41035}


def staff_from_wecom(userid: str) -> Staff:
    """The local staff row; a new member's name comes from ``user/get``."""
    staff = Staff.objects.filter(userid=userid).first()
    if staff is not None:
        return staff
    name = ""
    try:
        name = wecom.user_get(userid).get("name", "")
    except WeComPermanentError:
        logger.info("unknown member in a callback; keeping the userid as name")
    return staff_upsert(userid=userid, name=name)


def _fetch_customer(external_userid: str) -> dict | None:
    try:
        return wecom.customer_get(external_userid)
    except WeComPermanentError as exc:
        if exc.errcode in _GONE:
            return None
        raise


def on_customer_added(fields: dict) -> None:
    """A customer added a staff member (scan, search, card…).

    Upserts customer and relation, attributes the channel (first touch kept for
    good, D2), applies the channel's tags (to WeCom from Celery, D9), sends the
    welcome inside the code's validity window (D5) and puts a "new friend"
    follow-up on the manager's list (D11).
    """
    userid, external_userid = fields["UserID"], fields["ExternalUserID"]
    half = fields.get("ChangeType") == "add_half_external_contact"
    at = wecom_time(fields.get("CreateTime"))
    state = fields.get("State") or ""
    result = _fetch_customer(external_userid)
    if result is None:
        logger.info("added customer no longer visible in WeCom; skipped")
        return
    staff = staff_from_wecom(userid)
    customer = customer_sync_from_wecom(result=result, staff_by_userid={userid: staff})
    info = next((f for f in result.get("follow_user", []) if f.get("userid") == userid), None)
    relation, _created = follow_relation_upsert(
        customer=customer,
        staff=staff,
        info=info or {"userid": userid, "state": state, "createtime": fields.get("CreateTime")},
        status=FollowRelation.Status.HALF if half else FollowRelation.Status.ACTIVE,
    )
    channel = customer_channel_attribute(customer=customer, state=state, at=at)
    event_key = f"{external_userid}:{userid}:{fields.get('CreateTime', '')}"
    first_touch = channel is not None and customer.first_channel_id == channel.pk
    timeline_add(
        customer=customer,
        kind="customer_added",
        at=at,
        staff=staff,
        summary=f"添加了{staff.name}" + (f"（渠道：{channel.name}）" if channel else ""),
        data={"state": state, "channel_id": channel.pk if channel else None, "half": half},
        dedupe_key=f"added:{event_key}",
    )
    if channel is not None and not first_touch:
        # D2: a later channel never replaces the first; it is remembered on the timeline.
        timeline_add(
            customer=customer,
            kind="channel_touch",
            at=at,
            staff=staff,
            summary=f"再次通过渠道「{channel.name}」添加（首次来源保持不变）",
            data={"channel_id": channel.pk, "first_channel_id": customer.first_channel_id},
            dedupe_key=f"channel_touch:{event_key}",
        )
    # The welcome code lives 20 seconds: send it before anything that can wait.
    welcome_code = fields.get("WelcomeCode")
    if welcome_code and channel is not None and channel.is_active:
        customer_welcome_send(
            customer=customer,
            staff=staff,
            channel=channel,
            welcome_code=welcome_code,
            event_key=event_key,
            relation=relation,
        )
    if channel is not None:
        customer_channel_tags_apply(customer=customer, channel=channel, staff=staff)
    new_friend_task_ensure(relation=relation, channel=channel)
    hooks.customer_added.call(
        customer=customer, staff=staff, relation=relation, state=state, added_at=at
    )


def on_customer_edited(fields: dict) -> None:
    result = _fetch_customer(fields["ExternalUserID"])
    if result is not None:
        customer_sync_from_wecom(result=result)


def _end(fields: dict, status: str) -> None:
    follow_relation_end(
        external_userid=fields["ExternalUserID"],
        userid=fields["UserID"],
        status=status,
        at=wecom_time(fields.get("CreateTime")),
        source=fields.get("Source", ""),
    )


def on_customer_deleted_by_staff(fields: dict) -> None:
    if fields.get("Source") == "DELETE_BY_TRANSFER":
        _end(fields, FollowRelation.Status.TRANSFERRED)
    else:
        _end(fields, FollowRelation.Status.REMOVED_BY_STAFF)


def on_staff_deleted_by_customer(fields: dict) -> None:
    _end(fields, FollowRelation.Status.REMOVED_BY_CUSTOMER)


def on_transfer_failed(fields: dict) -> None:
    """``transfer_fail``: the customer refused, or the successor is over their limit."""
    from .staff import transfer_failed_from_wecom

    reason = fields.get("FailReason", "")
    at = wecom_time(fields.get("CreateTime"))
    transfer = transfer_failed_from_wecom(
        external_userid=fields["ExternalUserID"], userid=fields["UserID"], reason=reason, at=at
    )
    relation = (
        FollowRelation.objects.filter(customer__external_userid=fields["ExternalUserID"])
        .filter(
            staff__userid__in=[fields["UserID"], transfer.from_staff.userid if transfer else ""]
        )
        .select_related("customer", "staff")
        .first()
    )
    customer = transfer.customer if transfer else (relation.customer if relation else None)
    if customer is None:
        return
    timeline_add(
        customer=customer,
        kind="transfer_failed",
        at=at,
        staff=relation.staff if relation else None,
        summary="转接失败："
        + {"customer_refused": "客户拒绝", "customer_limit_exceed": "接替成员客户数已达上限"}.get(
            reason, reason
        ),
        data={"reason": reason, "transfer_id": transfer.pk if transfer else None},
        dedupe_key=f"transfer_failed:{fields['ExternalUserID']}:{fields['UserID']}:{fields.get('CreateTime', '')}",
    )


def on_staff_left(fields: dict) -> None:
    """``change_contact``/``delete_user``: a member left the corp."""
    staff_mark_left(userid=fields["UserID"], at=wecom_time(fields.get("CreateTime")))
