"""Every periodic job, declared in one place.

Each entry's ``expires`` is shorter than its period, so a backlog after an
outage never runs the same sweep many times over.
"""

from __future__ import annotations

from celery.schedules import crontab

CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Re-sends inbox rows the broker lost (down during the request, worker killed).
    "wecom-inbox-sweep": {
        "task": "scrm.wecom.tasks.inbox_sweep",
        "schedule": 60.0,
        "options": {"expires": 50},
    },
    # Nightly reconciliation with WeCom: callbacks can be lost or arrive out of order.
    "wecom-nightly-sync": {
        "task": "scrm.wecom.tasks.wecom_sync",
        "schedule": crontab(hour=2, minute=30),
        "options": {"expires": 6 * 3600},
    },
}
