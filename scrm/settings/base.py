"""Settings shared by every flavour (dev, test, production).

Concern modules (database, redis, celery, wecom, security, logging) are pulled
in below; flavour modules import ``*`` from here and override what differs.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .campaigns import *  # noqa: F403
from .celery import *  # noqa: F403
from .database import *  # noqa: F403
from .env import BASE_DIR, env, env_bool, var_dir
from .logging import *  # noqa: F403
from .observability import *  # noqa: F403
from .payments import *  # noqa: F403
from .privacy import *  # noqa: F403
from .redis import REDIS_URL
from .schedule import *  # noqa: F403
from .security import *  # noqa: F403
from .sop import *  # noqa: F403
from .wecom import *  # noqa: F403

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
VAR_DIR = var_dir()
# Where customers reach this server (links in welcome messages, H5 pages).
SCRM_PUBLIC_URL = env.str("SCRM_PUBLIC_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_celery_beat",
    "django_prometheus",
    "scrm.core",
    "scrm.wecom",
    "scrm.payments",
    "scrm.content",
    "scrm.workspace",
    "contacts",
    "groups",
    "groups.sop",
    "tagging",
    "tagging.behaviour",
    "tagging.intent",
    "tagging.rules",
    "tagging.surveys",
    "tagging.leads",
    "campaigns",
    "campaigns.payouts",
    "campaigns.lottery",
    "campaigns.referral",
    "scrm.demo",
]

MIDDLEWARE = [
    # First and (but for axes) last: request latency and errors by view, for /metrics
    # (the inner one is django-prometheus' own, made safe in scrm.core.metrics).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "scrm.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "scrm.core.metrics.PrometheusAfterMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "scrm.urls"
WSGI_APPLICATION = "scrm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The axes backend first: it refuses a locked-out username + IP before any password check
# (lockout settings in security.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Users' language: Simplified Chinese by default, English available.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "scrm",
        "TIMEOUT": 300,
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "scrm.core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "scrm API",
    "DESCRIPTION": "Self-hosted WeCom SCRM for banks",
    "VERSION": "0.1.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Choice sets whose field names collide across components get names of their own.
    "ENUM_NAME_OVERRIDES": {"ConversionKindEnum": "campaigns.referral.models.Conversion.Kind"},
}
