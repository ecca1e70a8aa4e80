"""SOP delivery: quotas and the timeouts that decide when a worker is presumed dead."""

from __future__ import annotations

from .env import env

# 0 means WeCom's default: as many group mass messages a month as the month has days.
SOP_GROUP_MONTHLY_QUOTA = env.int("SOP_GROUP_MONTHLY_QUOTA", default=0)
# A claimed expansion or push older than this belongs to a dead worker.
SOP_CLAIM_TIMEOUT_S = env.int("SOP_CLAIM_TIMEOUT_S", default=300)
SOP_PUSH_UNCERTAIN_S = env.int("SOP_PUSH_UNCERTAIN_S", default=120)
# A push still pending this long after it was queued lost its task (broker outage,
# killed worker): the sweeper queues it again. Claims make a second copy harmless.
SOP_PUSH_SWEEP_AFTER_S = env.int("SOP_PUSH_SWEEP_AFTER_S", default=60)
