"""A corp-wide limiter for WeCom calls, shared by every process through Redis.

Celery's ``rate_limit`` is per worker, so it cannot keep a fleet under WeCom's
per-corp limits. One Lua script checks, atomically: a block left by a 45009
(WeCom blocks the API for a while, and hammering it only extends the pain), a
cap on concurrent calls (45033), and a token bucket sized per API.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator

import redis
from django.conf import settings

from .errors import WeComRateLimited

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_conc = tonumber(ARGV[3])
local call_id = ARGV[4]
local lease = tonumber(ARGV[5])
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then return {0, blocked, 1} end
if max_conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= max_conc then return {0, 10, 2} end
end
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local ttl = math.ceil(burst / rate) + 1000
if tokens < 1 then
  redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {0, math.max(1, math.ceil((1 - tokens) / rate)), 3}
end
redis.call('HSET', KEYS[1], 't', tostring(tokens - 1), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], ttl)
if max_conc > 0 then
  redis.call('ZADD', KEYS[3], now + lease, call_id)
  redis.call('PEXPIRE', KEYS[3], lease + 1000)
end
return {1, 0, 0}
"""

PREFIX = "scrm:wecom:rl"
WHY = {1: "blocked after 45009", 2: "concurrency cap", 3: "rate"}


class RateLimiter:
    """Per-API token bucket + concurrency cap + 45009 block, all in Redis."""

    def __init__(self, client: redis.Redis):
        self.redis = client
        self._script = client.register_script(_ACQUIRE)

    @staticmethod
    def per_min(api: str) -> int:
        return int(settings.WECOM_RATE_LIMITS.get(api, settings.WECOM_RATE_PER_MIN))

    def try_acquire(
        self, api: str, call_id: str, *, lease_s: float = 60.0
    ) -> tuple[bool, int, str]:
        """One attempt: (granted, wait in ms before asking again, why not)."""
        rate = max(self.per_min(api), 1) / 60000.0
        granted, wait_ms, why = self._script(
            keys=[f"{PREFIX}:bucket:{api}", f"{PREFIX}:block:{api}", f"{PREFIX}:inflight:{api}"],
            args=[
                repr(rate),
                settings.WECOM_RATE_BURST,
                settings.WECOM_MAX_CONCURRENCY,
                call_id,
                int(lease_s * 1000),
            ],
        )
        return bool(granted), int(wait_ms), WHY.get(int(why), "")

    def release(self, api: str, call_id: str) -> None:
        self.redis.zrem(f"{PREFIX}:inflight:{api}", call_id)

    def block(self, api: str, seconds: float | None = None) -> None:
        """Pause an API for everybody (WeCom answered 45009)."""
        ms = int(1000 * (settings.WECOM_RATE_BLOCK_S if seconds is None else seconds))
        if ms > 0:
            self.redis.set(f"{PREFIX}:block:{api}", "1", px=ms)

    def blocked_for(self, api: str) -> float:
        ttl = self.redis.pttl(f"{PREFIX}:block:{api}")
        return max(ttl, 0) / 1000.0

    @contextlib.contextmanager
    def slot(
        self, api: str, *, max_wait_s: float | None = None, timeout_s: float = 60.0
    ) -> Iterator[None]:
        """Wait for a slot (up to ``max_wait_s``), hold it for the call, then give it back."""
        max_wait = settings.WECOM_RATE_MAX_WAIT_S if max_wait_s is None else max_wait_s
        deadline = time.monotonic() + max_wait
        call_id = uuid.uuid4().hex
        while True:
            granted, wait_ms, why = self.try_acquire(api, call_id, lease_s=timeout_s + 5)
            if granted:
                break
            left = deadline - time.monotonic()
            if wait_ms / 1000.0 > left:
                raise WeComRateLimited(
                    None, f"local limiter: {why}, retry in {wait_ms} ms", endpoint=api
                )
            time.sleep(wait_ms / 1000.0)
        try:
            yield
        finally:
            self.release(api, call_id)
