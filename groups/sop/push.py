"""Pushing SOP deliveries to WeCom as group mass messages, and reading back results.

One ``add_msg_template`` per (occurrence, owner), listing up to 2,000 of that
owner's groups (WeCom sends only after the owner confirms in the client).
Content that names the group (``{群名称}``) is pushed group by group instead.

Exactly once: a push is claimed (PENDING → CALLING) before the call. If the
worker dies during the call, the claim goes stale; whoever picks it up first
asks WeCom whether that owner's message was created after the claim and
adopts it, and only calls again when it was not.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contacts.models import Staff
from groups.models import CustomerGroup
from scrm.content.rules import VAR_CUSTOMER_NAME, VAR_GROUP_NAME, VAR_MANAGER_NAME
from scrm.content.services import content_message_build
from scrm.core.errors import DomainError
from scrm.wecom.adapter import wecom
from scrm.wecom.errors import WeComPermanentError, WeComRetryableError
from scrm.workspace.models import ManagerTask
from scrm.workspace.services import task_ensure, tasks_close_for_push

from .models import SopDelivery, SopOccurrence, SopPush

logger = logging.getLogger(__name__)

MAX_GROUPS_PER_PUSH = 2000  # add_msg_template's chat_id_list limit
MAX_ATTEMPTS = 8
# How long send results are fetched for a mass message owners have not all confirmed.
RESULTS_WINDOW = timedelta(days=3)
# add_msg_template's send_result status → our delivery status and reason.
RESULT_STATUS = {
    1: (SopDelivery.Status.SENT, ""),
    2: (SopDelivery.Status.FAILED, "群已不可发送"),
    3: (SopDelivery.Status.SKIPPED, "企业微信：本月群发次数已达上限"),
}


def uncertain_after() -> timedelta:
    """A push claim this old belongs to a worker that died during the call."""
    return timedelta(seconds=settings.SOP_PUSH_UNCERTAIN_S)


def _uses_group_name(text: str) -> bool:
    return "{" + VAR_GROUP_NAME + "}" in (text or "")


def sop_pushes_create(*, occurrence: SopOccurrence) -> list[int]:
    """Group the occurrence's pending deliveries into pushes; returns the push ids.

    Deterministic (by owner, then group id), so a re-run after a crash finds the
    same chunks and the unique key makes it create nothing twice.
    """
    version = occurrence.content_version
    per_group = _uses_group_name(version.text if version else "")
    size = 1 if per_group else MAX_GROUPS_PER_PUSH
    pending = (
        SopDelivery.objects.filter(occurrence=occurrence, status=SopDelivery.Status.PENDING)
        .order_by("owner_userid", "group_id")
        .values_list("id", "owner_userid", "group__chat_id", "group__name")
    )
    by_owner: dict[str, list[tuple[int, str, str]]] = {}
    for delivery_id, owner, chat_id, name in pending:
        by_owner.setdefault(owner, []).append((delivery_id, chat_id, name))
    owner_names = dict(
        Staff.objects.filter(userid__in=list(by_owner)).values_list("userid", "name")
    )
    push_ids: list[int] = []
    for owner, rows in by_owner.items():
        for chunk_no, start in enumerate(range(0, len(rows), size)):
            chunk = rows[start : start + size]
            variables = {VAR_MANAGER_NAME: owner_names.get(owner, ""), VAR_CUSTOMER_NAME: "大家"}
            if per_group:
                variables[VAR_GROUP_NAME] = chunk[0][2]
            push, _ = SopPush.objects.get_or_create(
                occurrence=occurrence,
                owner_userid=owner,
                chunk=chunk_no,
                defaults={"chat_ids": [c for _, c, _ in chunk], "variables": variables},
            )
            SopDelivery.objects.filter(pk__in=[d for d, _, _ in chunk], push__isnull=True).update(
                push=push
            )
            if push.status == SopPush.Status.PENDING:
                push_ids.append(push.pk)
    return push_ids


def _claim(push_id: int, now: datetime) -> SopPush | None:
    claimed = SopPush.objects.filter(pk=push_id, status=SopPush.Status.PENDING).update(
        status=SopPush.Status.CALLING, called_at=now, attempts=F("attempts") + 1
    )
    if claimed:
        return SopPush.objects.select_related(
            "occurrence__content_version", "occurrence__slot__content"
        ).get(pk=push_id)
    push = (
        SopPush.objects.filter(pk=push_id)
        .select_related("occurrence__content_version", "occurrence__slot__content")
        .first()
    )
    if push is None or push.status != SopPush.Status.CALLING:
        return None
    if push.called_at and push.called_at > now - uncertain_after():
        return None  # another worker is calling right now
    # The last caller died mid-call: WeCom may or may not have the message.
    msgid = _find_created(push, now)
    if msgid:
        _accepted(push, msgid=msgid, fail_list=[])
        logger.info("sop push %s adopted existing mass message %s", push.pk, msgid)
        return None
    taken = SopPush.objects.filter(
        pk=push_id, status=SopPush.Status.CALLING, called_at=push.called_at
    ).update(called_at=now, attempts=F("attempts") + 1)
    if not taken:
        return None
    push.refresh_from_db()
    return push


def _payload(push: SopPush) -> dict:
    # One mass message reaches all the push's groups: its tracked links name the first.
    group_id = (
        CustomerGroup.objects.filter(chat_id__in=push.chat_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    return content_message_build(
        version=push.occurrence.content_version,
        variables=push.variables or {},
        group_id=group_id,
    )


def _find_created(push: SopPush, now: datetime) -> str | None:
    """The msgid of the mass message the dead worker created for exactly this push.

    A candidate must come from this owner after the claim, carry our text, not
    belong to another push already (the previous slot may have the same text),
    and target exactly this push's groups.
    """
    text = _payload(push).get("text", {}).get("content", "")
    taken = set(
        SopPush.objects.filter(owner_userid=push.owner_userid)
        .exclude(pk=push.pk)
        .exclude(msgid="")
        .values_list("msgid", flat=True)
    )
    wanted = set(push.chat_ids)
    for message in wecom.group_msgs(
        chat_type="group",
        start_time=int(push.called_at.timestamp()) - 1,
        end_time=int(now.timestamp()) + 60,
        creator=push.owner_userid,
        filter_type=2,
        limit=100,
    ):
        if message["msgid"] in taken or message.get("creator") != push.owner_userid:
            continue
        if (message.get("text") or {}).get("content", "") != text:
            continue
        targets = {
            row.get("chat_id")
            for row in wecom.group_msg_send_results(message["msgid"], push.owner_userid)
        }
        if targets == wanted:
            return message["msgid"]
    return None


@transaction.atomic
def _accepted(push: SopPush, *, msgid: str, fail_list: list[str]) -> None:
    push.status = SopPush.Status.AWAITING_CONFIRM
    push.msgid = msgid
    push.last_error = ""
    push.save(update_fields=["status", "msgid", "last_error", "updated_at"])
    deliveries = SopDelivery.objects.filter(push=push, status=SopDelivery.Status.PENDING)
    if fail_list:
        deliveries.filter(group__chat_id__in=fail_list).update(
            status=SopDelivery.Status.FAILED, reason="企业微信拒绝该群", msgid=msgid
        )
    waiting = deliveries.update(status=SopDelivery.Status.AWAITING_CONFIRM, msgid=msgid)
    staff = Staff.objects.filter(userid=push.owner_userid).first()
    if staff is not None and waiting:
        # WeCom sends only after the owner confirms: it goes on their task list.
        task_ensure(
            staff=staff,
            kind=ManagerTask.Kind.GROUP_MESSAGE,
            title=f"确认群发：{push.occurrence.slot.content}",
            detail=f"{waiting} 个客户群待发送",
            dedupe_key=f"push:{push.pk}",
            due_date=timezone.localdate(),
            push=push,
        )


@transaction.atomic
def _failed(push: SopPush, reason: str) -> None:
    push.status = SopPush.Status.FAILED
    push.last_error = reason
    push.save(update_fields=["status", "last_error", "updated_at"])
    SopDelivery.objects.filter(push=push, status=SopDelivery.Status.PENDING).update(
        status=SopDelivery.Status.FAILED, reason=reason[:255], last_error=reason
    )


def sop_push_send(*, push_id: int, now: datetime | None = None) -> str | None:
    """Create the owner's mass message in WeCom. Returns the msgid when this call made it.

    Raises ``WeComRetryableError`` for the task to retry with backoff; the push
    is then PENDING again so the retry (or the sweeper) can claim it.
    """
    now = now or timezone.now()
    push = _claim(push_id, now)
    if push is None:
        return None
    occurrence = push.occurrence
    if occurrence.status == SopOccurrence.Status.CANCELLED:
        SopPush.objects.filter(pk=push.pk).update(status=SopPush.Status.CANCELLED)
        return None
    try:
        payload = _payload(push)
    except DomainError as exc:
        _failed(push, exc.message)
        return None
    try:
        result = wecom.msg_template_add(
            chat_type="group", sender=push.owner_userid, chat_id_list=push.chat_ids, **payload
        )
    except WeComRetryableError as exc:
        final = push.attempts >= MAX_ATTEMPTS
        if final:
            _failed(push, f"多次重试仍失败：{exc}")
            return None
        SopPush.objects.filter(pk=push.pk, status=SopPush.Status.CALLING).update(
            status=SopPush.Status.PENDING, last_error=str(exc)[:1000]
        )
        raise
    except WeComPermanentError as exc:
        _failed(push, f"企业微信拒绝：{exc.errcode} {exc.errmsg}")
        return None
    _accepted(push, msgid=result["msgid"], fail_list=result.get("fail_list") or [])
    return result["msgid"]


def sop_push_results_sync(*, push_id: int) -> dict[str, int]:
    """Read WeCom's per-group send results for one confirmed or waiting push (a push
    that is gone gives nothing)."""
    push = SopPush.objects.filter(pk=push_id).first()
    if push is None or not push.msgid:
        return {}
    chat_to_group = dict(
        CustomerGroup.objects.filter(chat_id__in=push.chat_ids).values_list("chat_id", "id")
    )
    counts: dict[str, int] = {}
    for row in wecom.group_msg_send_results(push.msgid, push.owner_userid):
        status, reason = RESULT_STATUS.get(row.get("status"), (None, ""))
        group_id = chat_to_group.get(row.get("chat_id", ""))
        if status is None or group_id is None:
            continue
        counts[status] = counts.get(status, 0) + 1
        SopDelivery.objects.filter(push=push, group_id=group_id).exclude(status=status).update(
            status=status, reason=reason
        )
    waiting = SopDelivery.objects.filter(
        push=push, status=SopDelivery.Status.AWAITING_CONFIRM
    ).exists()
    push.results_synced_at = timezone.now()
    if not waiting:
        push.status = SopPush.Status.DONE
        tasks_close_for_push(push_id=push.pk, done=True)
    push.save(update_fields=["results_synced_at", "status", "updated_at"])
    return counts


def sop_pushes_awaiting_results(*, now: datetime | None = None) -> list[int]:
    """Pushes of the last three days whose owners may still confirm them in WeCom."""
    since = (now or timezone.now()) - RESULTS_WINDOW
    return list(
        SopPush.objects.filter(
            status=SopPush.Status.AWAITING_CONFIRM, called_at__gte=since
        ).values_list("id", flat=True)
    )


def sop_pushes_stuck(*, now: datetime | None = None) -> list[int]:
    """Pushes a sweeper should hand to a worker again: pending ones whose task was lost
    (broker outage) and claims left by dead workers."""
    now = now or timezone.now()
    pending = SopPush.objects.filter(
        status=SopPush.Status.PENDING,
        updated_at__lt=now - timedelta(seconds=settings.SOP_PUSH_SWEEP_AFTER_S),
    )
    stale = SopPush.objects.filter(
        status=SopPush.Status.CALLING, called_at__lt=now - uncertain_after()
    )
    return list(pending.values_list("id", flat=True)) + list(stale.values_list("id", flat=True))
