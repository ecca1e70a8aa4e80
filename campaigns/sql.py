"""Server-side prepared statements for the claim's hot path.

Planning the five-step claim statement costs about as much as running it, so each
database connection prepares it once (``PREPARE``, which lasts for the session and
survives a rollback) and then only ``EXECUTE``s it. Behind a pooler that hands one
session's transactions to different server connections (PgBouncer in transaction
mode), set ``CAMPAIGNS_PREPARED_STATEMENTS = False``: the same SQL then runs as is.
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
