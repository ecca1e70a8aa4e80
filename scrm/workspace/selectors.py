"""Reads on the task list: who sees which tasks, today's list, the branch leaderboard."""

from __future__ import annotations

from datetime import date, datetime

from django.db.models import Count, Q, QuerySet

from scrm.core.access import scope_filter, staff_of
from scrm.core.workdays import SHANGHAI

from .models import ManagerTask


def tasks_visible_to(user) -> QuerySet:
    """Tasks in the person's scope (``scrm.core.access``): a manager their own, a branch
    manager their branch's, ops all."""
    tasks = ManagerTask.objects.select_related("staff", "customer", "group", "suggestion")
    return scope_filter(tasks, user, staff_path="staff")


def worklist_for(*, user, today: date) -> dict:
    """The manager's own list for today: open tasks due by today (overdue first), and
    what they closed today."""
    staff = staff_of(user)
    if staff is None:
        return {"open": [], "closed_today": [], "overdue": 0}
    own = tasks_visible_to(user).filter(staff=staff)
    open_tasks = list(
        own.filter(status=ManagerTask.Status.OPEN, due_date__lte=today).order_by(
            "due_date", "-priority", "id"
        )
    )
    start = datetime.combine(today, datetime.min.time(), tzinfo=SHANGHAI)
    closed = list(own.exclude(status=ManagerTask.Status.OPEN).filter(closed_at__gte=start))
    return {
        "open": open_tasks,
        "closed_today": closed,
        "overdue": sum(1 for t in open_tasks if t.due_date < today),
    }


def branch_leaderboard(*, branch_id: int, since: date, until: date) -> list[dict]:
    """Completion per manager of a branch over a period (the "horse race", D13)."""
    rows = (
        ManagerTask.objects.filter(
            staff__branch_id=branch_id, due_date__gte=since, due_date__lte=until
        )
        .values("staff_id", "staff__name")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(status=ManagerTask.Status.DONE)),
            skipped=Count("id", filter=Q(status=ManagerTask.Status.SKIPPED)),
        )
    )
    board = [
        {
            "staff_id": r["staff_id"],
            "name": r["staff__name"],
            "total": r["total"],
            "done": r["done"],
            "skipped": r["skipped"],
            "rate": round(100 * r["done"] / r["total"]) if r["total"] else 0,
        }
        for r in rows
    ]
    board.sort(key=lambda r: (-r["rate"], -r["done"], r["name"]))
    return board
