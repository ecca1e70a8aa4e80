"""Health of the running system: database, Redis, Celery workers and beat."""

from __future__ import annotations

import time
from functools import lru_cache

import redis
from django.conf import settings
from django.db import connection

BEAT_HEARTBEAT_KEY = "scrm:beat:last_tick"
BEAT_MAX_AGE_S = 60


@lru_cache(maxsize=4)
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def redis_client() -> redis.Redis:
    """A Redis client for the configured server (shared per process)."""
    return _client_for(settings.REDIS_URL)


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def check_redis() -> dict:
    redis_client().ping()
    return {"ok": True}


def check_worker() -> dict:
    from scrm.celery import app

    replies = app.control.ping(timeout=1.0) or []
    names = sorted(name for reply in replies for name in reply)
    return {"ok": bool(names), "workers": names}


def check_beat() -> dict:
    raw = redis_client().get(BEAT_HEARTBEAT_KEY)
    if raw is None:
        return {"ok": False, "error": "no tick seen"}
    age = max(0.0, time.time() - float(raw))
    return {"ok": age <= BEAT_MAX_AGE_S, "last_tick_age_s": round(age, 1)}


CHECKS = {
    "database": check_database,
    "redis": check_redis,
    "worker": check_worker,
    "beat": check_beat,
}


def system_health(only: list[str] | None = None, *, details: bool = True) -> tuple[bool, dict]:
    """Run every check (or the named ones); a check that raises is reported as failed.

    Without ``details`` (anonymous callers of ``/healthz``) each check says only
    whether it is ok: worker host names, error texts and the like are for staff.
    """
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        if only and name not in only:
            continue
        try:
            results[name] = check()
        except Exception as exc:  # a health check reports failures, it never raises
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    healthy = all(r["ok"] for r in results.values())
    if not details:
        results = {name: {"ok": result["ok"]} for name, result in results.items()}
    return healthy, results
