"""Velocity limits on claims per IP and per phone (by hash), counted in Redis (D4).

Fixed one-hour windows; one round trip counts both. The counters live outside the
claim's transaction on purpose: a refused or rolled-back claim still counts, as
coupon hunters' attempts should.
"""

from __future__ import annotations

import time

from scrm.core.health import redis_client

PREFIX = "scrm:campaigns:velocity"
WINDOW_S = 3600


def velocity_count(
    *,
    campaign_id: int,
    ip: str | None,
    ip_limit: int | None,
    phone_hash: str,
    phone_limit: int | None,
) -> str | None:
    """Count this claim; the name of the limit it went past ("ip", "phone"), or None."""
    keys: list[tuple[str, str, int]] = []
    window = int(time.time()) // WINDOW_S
    if ip and ip_limit:
        keys.append(("ip", f"{PREFIX}:{campaign_id}:ip:{ip}:{window}", ip_limit))
    if phone_hash and phone_limit:
        keys.append(("phone", f"{PREFIX}:{campaign_id}:ph:{phone_hash}:{window}", phone_limit))
    if not keys:
        return None
    pipe = redis_client().pipeline(transaction=False)
    for _name, key, _limit in keys:
        pipe.set(key, 0, ex=WINDOW_S + 60, nx=True)
        pipe.incr(key)
    counts = pipe.execute()[1::2]
    for (name, _key, limit), count in zip(keys, counts, strict=True):
        if count > limit:
            return name
    return None
