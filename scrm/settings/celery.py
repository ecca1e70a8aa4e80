"""Celery: Redis broker, at-least-once delivery of idempotent tasks.

Late acks plus reject-on-worker-lost mean a task whose worker dies is
redelivered; every task is written so that a redelivery changes nothing.
No countdown may exceed the visibility timeout (the broker would redeliver it
while it is still waiting), so long waits live in the database, not in Celery.
"""

from __future__ import annotations

from .env import env
from .redis import REDIS_URL, celery_broker_url

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=celery_broker_url(REDIS_URL))
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_timeout": 5,
    "socket_connect_timeout": 5,
    "retry_on_timeout": True,
    # Broadcasts (ping, control) stay within this logical database.
    "fanout_prefix": True,
    "fanout_patterns": True,
}
# A publish while the broker is down must not block a web request for long:
# callers that cannot lose work keep it in the database and a sweeper re-sends.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BEAT_SCHEDULER = "scrm.beat.HeartbeatScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False

# Longest countdown any task may use; below the visibility timeout on purpose.
SCRM_MAX_COUNTDOWN_S = 900
