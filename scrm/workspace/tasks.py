"""Thin Celery tasks for the task list."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from .services import task_rules_run


@shared_task(name="workspace.task_rules", ignore_result=True)
def task_rules_task() -> dict:
    """The daily run of the task rules, for today and again for yesterday.

    Final failure: no retry; the next day's run covers this day too (a rule that looks
    at one day only, such as birthdays, would otherwise miss it). Every rule's tasks
    carry dedupe keys, so the overlap creates nothing twice, and today goes first so
    that a task both days would create gets today's due date.
    """
    today = timezone.localdate()
    created = task_rules_run(today=today)
    for kind, count in task_rules_run(today=today - timedelta(days=1)).items():
        created[kind] = created.get(kind, 0) + count
    return created
