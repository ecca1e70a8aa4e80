"""Every periodic job, declared in one place.

Each entry's ``expires`` is shorter than its period, so a backlog after an
outage never runs the same sweep many times over.
"""

from __future__ import annotations

CELERY_BEAT_SCHEDULE: dict[str, dict] = {}
