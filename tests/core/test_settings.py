"""Settings: strict parsing, no working secret defaults in production, check --deploy clean."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from environ import ImproperlyConfigured

from scrm.settings.env import env_bool
from scrm.settings.redis import celery_broker_url, redis_url_with_db

BASE_DIR = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "scrm.settings.production",
    "SECRET_KEY": "x" * 30 + "production-secret-for-the-check-0123456789",
    "ALLOWED_HOSTS": "scrm.bank.example",
    "DATABASE_URL": "postgres://scrm:pw@db.internal:5432/scrm",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "WECOM_CORP_ID": "ww0123456789",
    "WECOM_SECRET": "s" * 43,
    "WECOM_TOKEN": "tokentoken",
    "WECOM_AES_KEY": "a" * 43,
    "FIELD_ENCRYPTION_KEY": "ZGV2LW9ubHktZmllbGQta2V5LWNoYW5nZS1tZS0wMDA=",
    "PHONE_HASH_KEY": "k" * 32,
    "SCRM_PUBLIC_URL": "https://scrm.bank.example",
}


def _manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "DJANGO_"))}
    base.pop("DATABASE_URL", None)
    base.pop("REDIS_URL", None)
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy():
    result = _manage(PRODUCTION_ENV, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_api_renders_json_only():
    """No browsable API in production: its HTML pages show forms and headers to anyone."""
    code = (
        "from rest_framework.settings import api_settings;"
        "print([r.__name__ for r in api_settings.DEFAULT_RENDERER_CLASSES])"
    )
    result = _manage(PRODUCTION_ENV, "shell", "--no-imports", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['JSONRenderer']"


@pytest.mark.parametrize(
    "missing",
    ["SECRET_KEY", "DATABASE_URL", "WECOM_SECRET", "FIELD_ENCRYPTION_KEY", "PHONE_HASH_KEY"],
)
def test_production_refuses_to_start_without_a_secret(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = _manage(env, "check")
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_refuses_debug():
    result = _manage({**PRODUCTION_ENV, "DEBUG": "true"}, "check")
    assert result.returncode != 0
    assert "DEBUG" in result.stderr


@pytest.mark.parametrize("raw,expected", [("true", True), ("1", True), ("off", False), ("", False)])
def test_booleans_parse_strictly(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env_bool("SOME_FLAG", not expected) is expected


def test_a_misspelt_boolean_is_an_error_not_false(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "ture")
    with pytest.raises(ImproperlyConfigured):
        env_bool("SOME_FLAG", False)


def test_redis_urls_for_sockets_and_tcp():
    assert redis_url_with_db("unix:///v/redis.sock?db=0", 3) == "unix:///v/redis.sock?db=3"
    assert redis_url_with_db("redis://h:6379/0", 2) == "redis://h:6379/2"
    assert celery_broker_url("unix:///v/r.sock?db=4") == "redis+socket:///v/r.sock?virtual_host=4"
    assert celery_broker_url("redis://h:6379/1") == "redis://h:6379/1"


def test_settings_refuse_a_non_postgres_database():
    result = _manage(
        {"DJANGO_SETTINGS_MODULE": "scrm.settings.dev", "DATABASE_URL": "sqlite:///x.db"}, "check"
    )
    assert result.returncode != 0
    assert "PostgreSQL" in result.stderr
