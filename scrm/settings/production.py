"""Production: every secret from the environment, HTTPS everywhere.

Nothing here has a working default: a missing secret stops the process at
start-up instead of running with a demo key.
"""

from __future__ import annotations

from .base import *  # noqa: F403
from .env import env, env_bool

DEBUG = env_bool("DEBUG", False)
if DEBUG:
    raise RuntimeError("DEBUG must be off in production settings")

SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SCRM_PUBLIC_URL = env.str("SCRM_PUBLIC_URL")
if not SCRM_PUBLIC_URL.startswith("https://"):
    raise RuntimeError("SCRM_PUBLIC_URL must be the https:// address customers reach")
if not env.str("DATABASE_URL", default=""):
    raise RuntimeError("DATABASE_URL must be set in production")
if not env.str("REDIS_URL", default=""):
    raise RuntimeError("REDIS_URL must be set in production")

WECOM_CORP_ID = env.str("WECOM_CORP_ID")
WECOM_SECRET = env.str("WECOM_SECRET")
WECOM_TOKEN = env.str("WECOM_TOKEN")
WECOM_AES_KEY = env.str("WECOM_AES_KEY")
WECOM_API_BASE = env.str("WECOM_API_BASE", default="https://qyapi.weixin.qq.com/cgi-bin/")
# Personal data at rest (D14): no demo keys in production.
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])
if not FIELD_ENCRYPTION_KEY:
    raise RuntimeError("FIELD_ENCRYPTION_KEY must be set in production")
PHONE_HASH_KEY = env.str("PHONE_HASH_KEY", default="")
if not PHONE_HASH_KEY:
    raise RuntimeError("PHONE_HASH_KEY must be set in production")

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# The health check is probed over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# The API speaks JSON only: no browsable HTML pages (forms, headers) for whoever finds it.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
