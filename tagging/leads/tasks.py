"""Thin Celery tasks of lead activation."""

from __future__ import annotations

from celery import shared_task

from .services import leads_assign


@shared_task(name="leads.assign_daily", ignore_result=True)
def leads_assign_daily() -> dict:
    """The morning run: today's ranked dormant customers onto their managers' lists.

    Final failure: no retry; running it again the same day (by hand or the next beat)
    hands out what is left, since each assignment is unique per record and week and per
    manager's slot of the day, so nothing is handed out twice and no cap is exceeded.
    """
    return leads_assign().as_dict()
