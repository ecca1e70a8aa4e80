"""Thin Celery tasks for the task list."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from .services import task_rules_run


@shared_task(name="workspace.task_rules", ignore_result=True)
def task_rules_task() -> dict:
    """The daily run of the task rules. A failure loses nothing: every rule is idempotent
    (dedupe keys) and the next run creates what this one missed."""
    return task_rules_run(today=timezone.localdate())
