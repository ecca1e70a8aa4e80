"""The customer manager's daily task list: creating, doing, finishing, skipping (D10–D12).

"Do it" is one click: for a customer task the adapter puts the suggested,
compliance-approved message into the manager's WeCom client (a single-chat
``add_msg_template`` the manager confirms); for a group task, the same to the
group. A manager may act only on their own tasks.
"""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.content_rules import VAR_CUSTOMER_NAME, VAR_GROUP_NAME, VAR_MANAGER_NAME
from campaigns.selectors import content_get_approved
from campaigns.services import content_message_build
from contacts.models import Staff
from scrm.core.errors import DomainError
from scrm.wecom.adapter import wecom
from scrm.wecom.errors import WeComError

from .models import ManagerTask

SKIP_REASONS = {
    "customer_busy": "客户暂不方便",
    "already_contacted": "已通过其他方式联系",
    "not_applicable": "不适用",
    "other": "其他",
}


def task_ensure(
    *,
    staff: Staff,
    kind: str,
    title: str,
    dedupe_key: str,
    due_date: date,
    detail: str = "",
    customer=None,
    group=None,
    push=None,
    suggestion=None,
    priority: int = 0,
) -> tuple[ManagerTask, bool]:
    """Create the task unless one with this key exists. Returns (task, created)."""
    existing = ManagerTask.objects.filter(dedupe_key=dedupe_key).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            task = ManagerTask.objects.create(
                staff=staff,
                kind=kind,
                title=title[:128],
                detail=detail[:255],
                dedupe_key=dedupe_key,
                due_date=due_date,
                customer=customer,
                group=group,
                push=push,
                suggestion=suggestion,
                priority=priority,
            )
    except IntegrityError:  # a concurrent rule run created it first
        return ManagerTask.objects.get(dedupe_key=dedupe_key), False
    return task, True


def _own_open_task(*, user, task_id: int) -> ManagerTask:
    task = (
        ManagerTask.objects.select_for_update(of=("self",))
        .select_related("staff", "customer", "group", "suggestion")
        .filter(pk=task_id, staff__user=user)
        .first()
    )
    if task is None:
        raise DomainError("task_not_found", "任务不存在或不属于你", status=404)
    if task.status != ManagerTask.Status.OPEN:
        raise DomainError("task_closed", "任务已处理", status=409)
    return task


@transaction.atomic
def task_done(*, user, task_id: int) -> ManagerTask:
    task = _own_open_task(user=user, task_id=task_id)
    task.status = ManagerTask.Status.DONE
    task.closed_at = timezone.now()
    task.save(update_fields=["status", "closed_at"])
    return task


@transaction.atomic
def task_skip(*, user, task_id: int, reason: str, note: str = "") -> ManagerTask:
    if reason not in SKIP_REASONS:
        raise DomainError("invalid_reason", "请选择跳过原因")
    if reason == "other" and not note.strip():
        raise DomainError("note_required", "选择“其他”时请填写原因")
    task = _own_open_task(user=user, task_id=task_id)
    task.status = ManagerTask.Status.SKIPPED
    task.skip_reason = SKIP_REASONS[reason] + (f"：{note.strip()}" if note.strip() else "")
    task.closed_at = timezone.now()
    task.save(update_fields=["status", "skip_reason", "closed_at"])
    return task


def task_act(*, user, task_id: int) -> ManagerTask:
    """ "Do it": put the suggested message into the manager's WeCom client to confirm."""
    with transaction.atomic():
        task = _own_open_task(user=user, task_id=task_id)
        if task.kind == ManagerTask.Kind.GROUP_MESSAGE:
            raise DomainError(
                "confirm_in_wecom", "请在企业微信「客户群群发」中确认发送，发送后任务自动完成"
            )
        if task.acted_at:
            raise DomainError("already_acted", "消息已推送到企业微信，请在企业微信中确认发送")
        if task.suggestion_id is None:
            raise DomainError("no_suggestion", "该任务没有建议话术，请直接联系客户后点“完成”")
        if task.customer is not None and task.customer.marketing_opt_out:
            raise DomainError("opted_out", "客户已拒收营销消息")
        version = content_get_approved(content_id=task.suggestion_id)
        payload = content_message_build(
            version=version,
            variables={
                VAR_CUSTOMER_NAME: task.customer.name if task.customer else "大家",
                VAR_GROUP_NAME: task.group.name if task.group else "",
                VAR_MANAGER_NAME: task.staff.name,
            },
        )
        target = (
            {"chat_type": "single", "external_userid": [task.customer.external_userid]}
            if task.customer
            else {"chat_type": "group", "chat_id_list": [task.group.chat_id]}
        )
        # Marked before the call: a second click while WeCom answers cannot send twice.
        task.acted_at = timezone.now()
        task.save(update_fields=["acted_at"])
    try:
        result = wecom.msg_template_add(sender=task.staff.userid, **target, **payload)
    except WeComError as exc:
        ManagerTask.objects.filter(pk=task.pk).update(acted_at=None)
        raise DomainError(
            "wecom_failed", f"企业微信暂时无法创建消息：{exc.errmsg}", status=502
        ) from exc
    ManagerTask.objects.filter(pk=task.pk).update(action_msgid=result.get("msgid", ""))
    task.action_msgid = result.get("msgid", "")
    return task
