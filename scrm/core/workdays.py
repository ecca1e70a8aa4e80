"""Chinese working days and the bank's time zone, for every app.

Holidays and make-up working days come from the ``chinesecalendar`` library;
for a year it does not cover yet, weekends count as rest days (and a warning
is logged) rather than guessing.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def is_rest_day(day: date) -> bool:
    """A public holiday or weekend that is not a make-up working day."""
    try:
        return not chinese_calendar.is_workday(day)
    except NotImplementedError:
        logger.warning("no official holiday data for %s; using weekends only", day.year)
        return day.weekday() >= 5


def next_workday(day: date) -> date:
    candidate = day + timedelta(days=1)
    for _ in range(30):  # the longest Chinese holiday is far shorter
        if not is_rest_day(candidate):
            return candidate
        candidate += timedelta(days=1)
    return candidate


def add_workdays(day: date, n: int) -> date:
    """The ``n``-th working day after ``day`` (``day`` itself when ``n`` is 0)."""
    for _ in range(n):
        day = next_workday(day)
    return day
