"""The manager workspace (/workspace/): today's tasks, one click each. Mobile-first,
no scripts needed, so it works inside WeCom's sidebar and in any browser."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from scrm.core.access import staff_of, viewer_scope
from scrm.core.errors import DomainError

from . import services
from .models import ManagerTask
from .selectors import branch_leaderboard, worklist_for


def _today():
    return timezone.localdate()


@login_required
def workspace(request):
    today = _today()
    data = worklist_for(user=request.user, today=today)
    sections: dict[str, list] = {}
    for task in data["open"]:
        sections.setdefault(task.get_kind_display(), []).append(task)
    staff = staff_of(request.user)
    branch_id = viewer_scope(request.user).branch_id
    board = None
    if branch_id is not None:  # a branch manager: this week's race of their branch (D13)
        week_start = today - timedelta(days=today.weekday())
        board = branch_leaderboard(branch_id=branch_id, since=week_start, until=today)
    return render(
        request,
        "workspace/index.html",
        {
            "today": today,
            "staff": staff,
            "sections": sections,
            "open_count": len(data["open"]),
            "overdue": data["overdue"],
            "closed_today": data["closed_today"],
            "skip_reasons": services.SKIP_REASONS,
            "board": board,
            "group_message_kind": ManagerTask.Kind.GROUP_MESSAGE,
        },
    )


def _run(request, action, success: str):
    try:
        action()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect("workspace")


@login_required
@require_POST
def task_done(request, task_id: int):
    return _run(
        request, lambda: services.task_done(user=request.user, task_id=task_id), _("已完成")
    )


@login_required
@require_POST
def task_skip(request, task_id: int):
    return _run(
        request,
        lambda: services.task_skip(
            user=request.user,
            task_id=task_id,
            reason=request.POST.get("reason", ""),
            note=request.POST.get("note", ""),
        ),
        _("已跳过"),
    )


@login_required
@require_POST
def task_act(request, task_id: int):
    return _run(
        request,
        lambda: services.task_act(user=request.user, task_id=task_id),
        _("消息已推送到企业微信，请在企业微信中确认发送"),
    )
