"""Database: PostgreSQL only.

With no ``DATABASE_URL`` the app talks to the embedded PostgreSQL that
``scrm.devstack`` runs under ``var/pg`` (a Unix socket in its data directory).
"""

from __future__ import annotations

from .env import env, var_dir

DEFAULT_DATABASE_URL = f"postgres://postgres@/scrm?host={var_dir() / 'pg'}"

DATABASES = {"default": env.db_url("DATABASE_URL", default=DEFAULT_DATABASE_URL)}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise RuntimeError("scrm runs on PostgreSQL only; DATABASE_URL must be a postgres:// URL")
# A Unix-socket URL carries its directory as ``?host=``; Django wants it in HOST.
if "host" in DATABASES["default"].get("OPTIONS", {}):
    DATABASES["default"]["HOST"] = DATABASES["default"]["OPTIONS"].pop("host")
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Reports read from a streaming replica when one is configured (scrm.core.db).
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["reports"] = {
        **env.db_url("DATABASE_REPLICA_URL"),
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": True,
        # Tests run against the primary under this alias (no second test database).
        "TEST": {"MIRROR": "default"},
    }
    DATABASES["reports"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    if "host" in DATABASES["reports"]["OPTIONS"]:
        DATABASES["reports"]["HOST"] = DATABASES["reports"]["OPTIONS"].pop("host")
DATABASE_ROUTERS = ["scrm.core.db.ReportsRouter"]
