"""Thin Celery tasks of the groups app."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from scrm.wecom.errors import WeComRetryableError

from .services import group_health_daily


@shared_task(
    name="groups.health_daily",
    autoretry_for=(WeComRetryableError,),
    retry_backoff=60,
    retry_jitter=True,
    max_retries=5,
)
def health_daily(day: str | None = None) -> dict:
    """Yesterday's figures per group, then health and rescue tasks (D6).

    Final failure: after five retries (about half an hour) the day has no figures;
    the next daily run computes them too (it makes up every day since the last one
    that has figures, up to a week back), so a failed day is late, not lost.
    """
    target = dt.date.fromisoformat(day) if day else timezone.localdate() - dt.timedelta(days=1)
    return group_health_daily(day=target)
