"""Server-side prepared statements for the claim's hot path.

Planning the five-step claim statement costs about as much as running it, so each
database connection prepares it once (``PREPARE``, which lasts for the session and
survives a rollback) and then only ``EXECUTE``s it. Behind a pooler that hands one
session's transactions to different server connections (PgBouncer in transaction
mode), set ``CAMPAIGNS_PREPARED_STATEMENTS = False``: the same SQL then runs as is.

A prepared statement is planned for its parameters' values on its first five runs and
then keeps a generic plan only if that one looks as cheap; with arrays among the
parameters PostgreSQL keeps planning anew, which costs more than the run. These
statements' plans do not depend on the values (lookups by key, guarded updates), so
each connection is told to use generic plans (``plan_cache_mode``, a session setting
that only prepared statements and PL/pgSQL functions read; Django prepares nothing).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping
from typing import Any

from django.conf import settings

_PARAM = re.compile(r"%\((\w+)\)s")
# Per psycopg2 connection: the statements it has prepared. A new connection (after
# CONN_MAX_AGE or a reconnect) starts empty and prepares again.
_PREPARED: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def generic_plans(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: this connection's prepared statements keep
    generic plans. Outside any transaction (a new connection), so a rollback never
    undoes it."""
    if connection.vendor != "postgresql" or not getattr(
        settings, "CAMPAIGNS_PREPARED_STATEMENTS", True
    ):
        return
    with connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_generic_plan")


class Statement:
    def __init__(self, name: str, sql: str):
        self.name = name
        self.sql = sql
        names: list[str] = []

        def positional(match: re.Match) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        self.prepare_sql = f"PREPARE {name} AS {_PARAM.sub(positional, sql)}"
        self.names = tuple(names)
        self.execute_sql = f"EXECUTE {name}({', '.join(['%s'] * len(names))})"

    def execute(self, cursor, params: Mapping[str, Any]) -> None:
        """Run the statement on ``cursor`` (a Django cursor) with named ``params``."""
        if not getattr(settings, "CAMPAIGNS_PREPARED_STATEMENTS", True):
            cursor.execute(self.sql, params)
            return
        raw = cursor.cursor.connection
        prepared = _PREPARED.setdefault(raw, set())
        if self.name not in prepared:
            cursor.execute(self.prepare_sql)
            prepared.add(self.name)
        cursor.execute(self.execute_sql, [params[name] for name in self.names])
