"""Thin Celery tasks of the groups app."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from scrm.wecom.errors import WeComRetryableError

from .health import group_day_stats_compute, groups_health_update


@shared_task(
    name="groups.health_daily",
    autoretry_for=(WeComRetryableError,),
    retry_backoff=60,
    retry_jitter=True,
    max_retries=5,
)
def health_daily(day: str | None = None) -> dict:
    """Yesterday's figures per group, then health and rescue tasks (D6)."""
    target = dt.date.fromisoformat(day) if day else timezone.localdate() - dt.timedelta(days=1)
    group_day_stats_compute(day=target)
    return groups_health_update(day=target)
