"""The merchant-wide call rate to WeChat Pay, shared by every worker through Redis.

WeChat Pay limits ``sendworkwxredpack`` per merchant per minute (FREQ_LIMIT over it):
a token bucket in Redis (one Lua script) paces every process at the configured rate,
with half a second of burst, so the fleet stays under the limit together.
"""

from __future__ import annotations

import time

import redis

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local ttl = math.ceil(burst / rate) + 1000
if tokens < 1 then
  redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], ttl)
  return math.max(1, math.ceil((1 - tokens) / rate))
end
redis.call('HSET', KEYS[1], 't', tostring(tokens - 1), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], ttl)
return 0
"""

PREFIX = "scrm:payments:rl"


class CallPacer:
    """A token bucket of ``per_min`` calls a minute for one API of one merchant."""

    def __init__(self, client: redis.Redis, *, name: str, per_min: int):
        self.redis = client
        self.key = f"{PREFIX}:{name}"
        self.rate = max(per_min, 1) / 60000.0  # tokens per ms
        self.burst = max(1.0, per_min / 120.0)  # half a second's worth
        self._script = client.register_script(_ACQUIRE)

    def wait_ms(self) -> int:
        """Take a token if there is one (0), else how long to wait before asking again."""
        return int(self._script(keys=[self.key], args=[repr(self.rate), repr(self.burst)]))

    def acquire(self, *, max_wait_s: float = 120.0) -> bool:
        deadline = time.monotonic() + max_wait_s
        while True:
            wait = self.wait_ms()
            if wait == 0:
                return True
            if time.monotonic() + wait / 1000 > deadline:
                return False
            time.sleep(wait / 1000)
