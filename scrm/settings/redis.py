"""Redis: cache, broker, rate-limit buckets and the shared WeCom token.

With no ``REDIS_URL`` the app talks to the embedded Redis that
``scrm.devstack`` runs under ``var/redis`` (a Unix socket).
"""

from __future__ import annotations

from scrm.redis_urls import celery_broker_url, redis_url_with_db  # noqa: F401

from .env import env, var_dir

DEFAULT_REDIS_URL = f"unix://{var_dir() / 'redis' / 'redis.sock'}?db=0"

REDIS_URL = env.str("REDIS_URL", default=DEFAULT_REDIS_URL)
