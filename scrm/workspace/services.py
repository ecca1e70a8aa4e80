"""The customer manager's daily task list: creating, doing, finishing, skipping (D10–D12).

"Do it" is one click: for a customer task the adapter puts the suggested,
compliance-approved message into the manager's WeCom client (a single-chat
``add_msg_template`` the manager confirms); for a group task, the same to the
group. A kind whose owner registered its own action (``registry.task_action``)
does that instead. A manager may act only on their own tasks. The WeCom call is
made after the row lock is released; its result is recorded in a second short
transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from scrm.content.rules import VAR_CUSTOMER_NAME, VAR_GROUP_NAME, VAR_MANAGER_NAME
from scrm.content.selectors import content_get_approved
from scrm.content.services import content_message_build
from scrm.core.errors import DomainError
from scrm.wecom.adapter import wecom
from scrm.wecom.errors import WeComError

from .models import ManagerTask, TaskRule
from .registry import RULE_EVALUATORS, TASK_ACTIONS

SKIP_REASONS = {
    "customer_busy": "客户暂不方便",
    "already_contacted": "已通过其他方式联系",
    "not_applicable": "不适用",
    "other": "其他",
}


def task_ensure(
    *,
    staff,
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
    """ "Do it": the kind's registered action, or the suggestion into the manager's WeCom."""
    with transaction.atomic():
        task = _own_open_task(user=user, task_id=task_id)
        action = TASK_ACTIONS.get(task.kind, _suggestion_send)
        remote = action(task)
    if remote is not None:
        msgid = remote()
        ManagerTask.objects.filter(pk=task.pk).update(action_msgid=msgid)
        task.action_msgid = msgid
    return task


def _suggestion_send(task: ManagerTask) -> Callable[[], str]:
    """Mark the task acted on (under its row lock) and return the WeCom call to make."""
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
        customer_id=task.customer_id,
        group_id=None if task.customer_id else task.group_id,
    )
    target = (
        {"chat_type": "single", "external_userid": [task.customer.external_userid]}
        if task.customer
        else {"chat_type": "group", "chat_id_list": [task.group.chat_id]}
    )
    # Marked before the call: a second click while WeCom answers cannot send twice.
    task.acted_at = timezone.now()
    task.save(update_fields=["acted_at"])
    sender = task.staff.userid

    def send() -> str:
        try:
            result = wecom.msg_template_add(sender=sender, **target, **payload)
        except WeComError as exc:
            ManagerTask.objects.filter(pk=task.pk).update(acted_at=None)
            raise DomainError(
                "wecom_failed", f"企业微信暂时无法创建消息：{exc.errmsg}", status=502
            ) from exc
        return result.get("msgid", "")

    return send


def task_rules_run(*, today: date) -> dict[str, int]:
    """Run every active rule for ``today`` with the evaluator its owning app registered;
    returns the tasks created per kind."""
    created: dict[str, int] = {}
    for rule in TaskRule.objects.filter(is_active=True).select_related("suggestion"):
        evaluate = RULE_EVALUATORS.get(rule.kind)
        if evaluate is not None:
            created[rule.kind] = evaluate(rule, today)
    return created


def tasks_close_for_push(*, push_id: int, done: bool, reason: str = "") -> int:
    """Close the open tasks of an SOP push: done when it was sent, skipped (with the
    reason) when it was withdrawn. Returns how many were closed."""
    fields = {"closed_at": timezone.now()}
    if done:
        fields["status"] = ManagerTask.Status.DONE
    else:
        fields.update(status=ManagerTask.Status.SKIPPED, skip_reason=reason[:255])
    return ManagerTask.objects.filter(push_id=push_id, status=ManagerTask.Status.OPEN).update(
        **fields
    )
