"""The corp-wide limiter in Redis: bucket, concurrency cap, 45009 block."""

from __future__ import annotations

import time

import pytest

from scrm.core.health import redis_client
from scrm.wecom.errors import WeComRateLimited
from scrm.wecom.ratelimit import RateLimiter


@pytest.fixture
def limiter(settings):
    settings.WECOM_RATE_BURST = 5
    settings.WECOM_RATE_PER_MIN = 600  # 10 a second
    settings.WECOM_MAX_CONCURRENCY = 0
    return RateLimiter(redis_client())


def test_a_burst_is_granted_then_callers_wait_for_the_bucket(limiter):
    grants = [limiter.try_acquire("externalcontact/get", f"c{i}")[0] for i in range(6)]
    assert grants == [True] * 5 + [False]
    granted, wait_ms, why = limiter.try_acquire("externalcontact/get", "c7")
    assert not granted and why == "rate" and 0 < wait_ms <= 100


def test_each_api_has_its_own_bucket_and_limits_are_configurable(limiter, settings):
    settings.WECOM_RATE_LIMITS = {"externalcontact/mark_tag": 60}
    for i in range(5):
        limiter.try_acquire("externalcontact/get", f"a{i}")
    assert limiter.try_acquire("externalcontact/mark_tag", "b")[0]
    assert limiter.per_min("externalcontact/mark_tag") == 60


def test_two_limiters_share_one_bucket_like_two_workers(limiter):
    other = RateLimiter(redis_client())
    for i in range(3):
        assert limiter.try_acquire("api", f"x{i}")[0]
    assert other.try_acquire("api", "y0")[0] and other.try_acquire("api", "y1")[0]
    assert not other.try_acquire("api", "y2")[0]


def test_concurrent_calls_per_api_are_capped(limiter, settings):
    settings.WECOM_MAX_CONCURRENCY = 2
    assert limiter.try_acquire("api", "one")[0]
    assert limiter.try_acquire("api", "two")[0]
    granted, _wait, why = limiter.try_acquire("api", "three")
    assert not granted and why == "concurrency cap"
    limiter.release("api", "one")
    assert limiter.try_acquire("api", "three")[0]


def test_after_45009_the_api_is_paused_for_everybody_for_the_block_period(limiter):
    limiter.block("externalcontact/get", 0.3)
    granted, wait_ms, why = limiter.try_acquire("externalcontact/get", "z")
    assert not granted and why == "blocked after 45009" and 0 < wait_ms <= 300
    assert limiter.try_acquire("externalcontact/list", "z")[0]  # other APIs unaffected
    started = time.monotonic()
    with limiter.slot("externalcontact/get", max_wait_s=2):
        pass
    assert time.monotonic() - started >= 0.2


def test_a_caller_that_would_wait_too_long_gets_a_retryable_error(limiter):
    limiter.block("externalcontact/get", 5)
    with pytest.raises(WeComRateLimited), limiter.slot("externalcontact/get", max_wait_s=0.1):
        pass
