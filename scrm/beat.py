"""Celery beat's scheduler: django-celery-beat's database scheduler plus a heartbeat.

Every tick writes its time to Redis so ``/healthz`` can tell a live beat from a
dead one (the last tick's age), independently of any task running.
"""

from __future__ import annotations

import logging
import time

from django_celery_beat.schedulers import DatabaseScheduler

from scrm.core.health import BEAT_HEARTBEAT_KEY, redis_client

logger = logging.getLogger(__name__)


class HeartbeatScheduler(DatabaseScheduler):
    def tick(self, *args, **kwargs):
        try:
            redis_client().set(BEAT_HEARTBEAT_KEY, f"{time.time():.3f}", ex=3600)
        except Exception:  # a Redis outage must not stop the schedule
            logger.warning("beat heartbeat could not be written", exc_info=True)
        return super().tick(*args, **kwargs)
