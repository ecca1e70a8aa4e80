"""Tests: real PostgreSQL and Redis, one Redis database per xdist worker."""

from __future__ import annotations

import os

from .base import *  # noqa: F403
from .celery import SCRM_MAX_COUNTDOWN_S  # noqa: F401
from .redis import REDIS_URL, celery_broker_url, redis_url_with_db

DEBUG = False
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
# Two test sessions on one Redis (two checkouts, two shells) pick different bases.
_REDIS_DB_BASE = int(os.environ.get("SCRM_TEST_REDIS_DB_BASE", "1"))
_REDIS_DB = (_REDIS_DB_BASE + int(_worker[2:] or 0)) % 16
REDIS_URL = redis_url_with_db(REDIS_URL, _REDIS_DB)  # noqa: F811
CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
CACHES["default"]["LOCATION"] = REDIS_URL  # noqa: F405
CACHES["default"]["KEY_PREFIX"] = f"scrm-test-{_worker}"  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
