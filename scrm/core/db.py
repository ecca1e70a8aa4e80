"""Reports read from a PostgreSQL replica when one is configured.

``DATABASE_REPLICA_URL`` adds the ``reports`` database (a streaming replica of the
primary). Code that builds a report runs inside ``reports_reading()`` (or is decorated
with ``@reads_from_reports``): its ORM reads go to the replica, so a heavy report never
competes with claims and callbacks on the primary. Everything else, and every write,
stays on the primary; without a replica the context changes nothing. A replica lags the
primary by a moment, which is why only reports use it: never a read that decides a write.
"""

from __future__ import annotations

import contextlib
import functools
from contextvars import ContextVar

from django.conf import settings
from django.db import connections

REPORTS = "reports"
_reading_reports: ContextVar[bool] = ContextVar("reading_reports", default=False)


def reports_alias() -> str:
    """The database alias report queries use now: ``reports`` inside
    ``reports_reading()`` when a replica is configured, else ``default``."""
    if _reading_reports.get() and REPORTS in settings.DATABASES:
        return REPORTS
    return "default"


def reports_connection():
    """The connection for raw SQL in a report (``with reports_connection().cursor()``)."""
    return connections[reports_alias()]


@contextlib.contextmanager
def reports_reading():
    token = _reading_reports.set(True)
    try:
        yield reports_alias()
    finally:
        _reading_reports.reset(token)


def reads_from_reports(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with reports_reading():
            return function(*args, **kwargs)

    return wrapper


class ReportsRouter:
    """Reads inside ``reports_reading()`` go to the replica; nothing else is routed."""

    def db_for_read(self, model, **hints):
        alias = reports_alias()
        return alias if alias == REPORTS else None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # The replica follows the primary's schema by replication.
        return db != REPORTS
