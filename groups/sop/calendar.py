"""When SOP slots fall due: weekly and daily times, seasonal ranges, Chinese holidays.

Holidays and make-up working days come from ``scrm.core.workdays``.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from scrm.core.workdays import SHANGHAI, is_rest_day, next_workday

logger = logging.getLogger(__name__)


def slot_applies_on(
    *,
    day: date,
    weekday: int | None,
    valid_from: date | None,
    valid_until: date | None,
    plan_start: date,
    plan_end: date | None,
) -> bool:
    if day < plan_start or (plan_end and day > plan_end):
        return False
    if (valid_from and day < valid_from) or (valid_until and day > valid_until):
        return False
    return weekday is None or day.weekday() == weekday


def nominal_times(
    *,
    weekday: int | None,
    at: time,
    valid_from: date | None,
    valid_until: date | None,
    plan_start: date,
    plan_end: date | None,
    after: datetime,
    until: datetime,
) -> list[datetime]:
    """Local (Asia/Shanghai) times in (after, until] at which the slot falls due."""
    start_day = after.astimezone(SHANGHAI).date()
    end_day = until.astimezone(SHANGHAI).date()
    times: list[datetime] = []
    day = start_day
    while day <= end_day:
        if slot_applies_on(
            day=day,
            weekday=weekday,
            valid_from=valid_from,
            valid_until=valid_until,
            plan_start=plan_start,
            plan_end=plan_end,
        ):
            moment = datetime.combine(day, at, tzinfo=SHANGHAI)
            if after < moment <= until:
                times.append(moment)
        day += timedelta(days=1)
    return times


def send_time_for(nominal: datetime, policy: str) -> tuple[datetime | None, str]:
    """Apply a plan's holiday policy: (when to send, or None to skip; why)."""
    local = nominal.astimezone(SHANGHAI)
    if policy == "send" or not is_rest_day(local.date()):
        return nominal, ""
    if policy == "skip":
        return None, "节假日跳过"
    shifted = datetime.combine(next_workday(local.date()), local.timetz())
    return shifted, f"节假日顺延至 {shifted:%Y-%m-%d}"
