"""Handlers for ``change_external_contact`` (and staff leaving): called by the inbox.

Each takes the callback's fields. API calls happen outside transactions; writes
go through ``contacts.services``, which are idempotent.
"""

from __future__ import annotations

import logging

from scrm.wecom.adapter import wecom
from scrm.wecom.errors import NOT_EXTERNAL_CONTACT, WeComPermanentError

from .models import FollowRelation, Staff
from .services import (
    customer_channel_attribute,
    customer_sync_from_wecom,
    customer_welcome_send,
    follow_relation_end,
    follow_relation_upsert,
    staff_mark_left,
    staff_upsert,
    timeline_add,
    wecom_time,
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
    """A customer added a staff member (scan, search, card…); maybe send the welcome."""
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
    follow_relation_upsert(
        customer=customer,
        staff=staff,
        info=info or {"userid": userid, "state": state, "createtime": fields.get("CreateTime")},
        status=FollowRelation.Status.HALF if half else FollowRelation.Status.ACTIVE,
    )
    channel = customer_channel_attribute(customer=customer, state=state, at=at)
    event_key = f"{external_userid}:{userid}:{fields.get('CreateTime', '')}"
    timeline_add(
        customer=customer,
        kind="customer_added",
        at=at,
        staff=staff,
        summary=f"添加了{staff.name}" + (f"（渠道：{channel.name}）" if channel else ""),
        data={"state": state, "channel_id": channel.pk if channel else None, "half": half},
        dedupe_key=f"added:{event_key}",
    )
    welcome_code = fields.get("WelcomeCode")
    if welcome_code and channel is not None and channel.welcome_text:
        customer_welcome_send(
            customer=customer,
            staff=staff,
            channel=channel,
            welcome_code=welcome_code,
            event_key=event_key,
        )


def on_customer_edited(fields: dict) -> None:
    result = _fetch_customer(fields["ExternalUserID"])
    if result is not None:
        customer_sync_from_wecom(result=result)


def _end(fields: dict, status: str, kind: str, summary: str) -> None:
    relation = follow_relation_end(
        external_userid=fields["ExternalUserID"],
        userid=fields["UserID"],
        status=status,
        at=wecom_time(fields.get("CreateTime")),
    )
    if relation is None:
        return
    timeline_add(
        customer=relation.customer,
        kind=kind,
        at=wecom_time(fields.get("CreateTime")),
        staff=relation.staff,
        summary=summary,
        data={"source": fields.get("Source", "")},
        dedupe_key=f"{kind}:{fields['ExternalUserID']}:{fields['UserID']}:{fields.get('CreateTime', '')}",
    )


def on_customer_deleted_by_staff(fields: dict) -> None:
    if fields.get("Source") == "DELETE_BY_TRANSFER":
        _end(
            fields,
            FollowRelation.Status.TRANSFERRED,
            "customer_transferred",
            "客户已转接给其他员工",
        )
    else:
        _end(fields, FollowRelation.Status.REMOVED_BY_STAFF, "removed_by_staff", "员工删除了客户")


def on_staff_deleted_by_customer(fields: dict) -> None:
    _end(fields, FollowRelation.Status.REMOVED_BY_CUSTOMER, "removed_by_customer", "客户删除了员工")


def on_transfer_failed(fields: dict) -> None:
    relation = (
        FollowRelation.objects.filter(
            customer__external_userid=fields["ExternalUserID"], staff__userid=fields["UserID"]
        )
        .select_related("customer", "staff")
        .first()
    )
    if relation is None:
        return
    reason = fields.get("FailReason", "")
    timeline_add(
        customer=relation.customer,
        kind="transfer_failed",
        at=wecom_time(fields.get("CreateTime")),
        staff=relation.staff,
        summary="转接失败："
        + {"customer_refused": "客户拒绝", "customer_limit_exceed": "接替成员客户数已达上限"}.get(
            reason, reason
        ),
        data={"reason": reason},
        dedupe_key=f"transfer_failed:{fields['ExternalUserID']}:{fields['UserID']}:{fields.get('CreateTime', '')}",
    )


def on_staff_left(fields: dict) -> None:
    """``change_contact``/``delete_user``: a member left the corp."""
    staff_mark_left(userid=fields["UserID"], at=wecom_time(fields.get("CreateTime")))
