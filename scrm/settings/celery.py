"""Celery: Redis broker, at-least-once delivery of idempotent tasks.

Late acks plus reject-on-worker-lost mean a task whose worker dies is
redelivered; every task is written so that a redelivery changes nothing.
No countdown may exceed the visibility timeout (the broker would redeliver it
while it is still waiting), so long waits live in the database, not in Celery.
"""

from __future__ import annotations

from kombu import Queue

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
# Redis Sentinel for the broker: CELERY_BROKER_URL="sentinel://s1:26379;sentinel://s2:26379"
# and the master's name here (docs/scaling.md).
if env.str("CELERY_BROKER_SENTINEL_MASTER", default=""):
    CELERY_BROKER_TRANSPORT_OPTIONS["master_name"] = env.str("CELERY_BROKER_SENTINEL_MASTER")
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

# Queues by kind of work, so one kind never waits behind another: a nightly reconcile or
# a report rebuild never delays a callback, and a burst of behaviour events never delays
# a payout. A worker started without ``-Q`` (``make run``, the tests) consumes them all;
# production runs a worker per group of queues (docker-compose.yml, docs/scaling.md).
CELERY_TASK_DEFAULT_QUEUE = "celery"
SCRM_QUEUES = {
    "callbacks": "WeCom callbacks from the inbox",
    "outreach": "pushes to WeCom: SOP, announcements, tags, channel codes",
    "payouts": "red packets and rewards paid through WeChat Pay",
    "tagging": "behaviour events, tag rules, intent scores, surveys, leads",
    "reports": "reports, rankings, bank imports and the nightly reconcile",
    "celery": "everything else: sweeps, ticks, small syncs",
}
CELERY_TASK_QUEUES = tuple(Queue(name) for name in SCRM_QUEUES)
# Exact names first, then patterns in order (Celery's glob routes).
CELERY_TASK_ROUTES = {
    "scrm.wecom.tasks.inbox_sweep": {"queue": "celery"},
    "scrm.wecom.tasks.inbox_*": {"queue": "callbacks"},
    "scrm.wecom.tasks.wecom_sync": {"queue": "reports"},
    "sop.tick": {"queue": "celery"},
    "sop.push_sweep": {"queue": "celery"},
    "sop.*": {"queue": "outreach"},
    "campaigns.announcement_send": {"queue": "outreach"},
    "tagging.tasks.customer_tags_push_sweep": {"queue": "celery"},
    "tagging.tasks.corp_tags_sync": {"queue": "celery"},
    "tagging.tasks.*": {"queue": "outreach"},
    "contacts.tasks.channel_code_push": {"queue": "outreach"},
    "contacts.tasks.bank_import_run": {"queue": "reports"},
    "payouts.*": {"queue": "payouts"},
    "referral.rewards_settle": {"queue": "payouts"},
    "referral.key_spreaders_refresh": {"queue": "reports"},
    "groups.health_daily": {"queue": "reports"},
    "workspace.task_rules": {"queue": "reports"},
    "behaviour.batches_sweep": {"queue": "celery"},
    "behaviour.*": {"queue": "tagging"},
    "intent.*": {"queue": "tagging"},
    "tag_rules.*": {"queue": "tagging"},
    "surveys.*": {"queue": "tagging"},
    "leads.*": {"queue": "reports"},
}
