"""Arrays as PostgreSQL array literals (``'{1,2,3}'``) for ``unnest(%s::bigint[])``.

psycopg2 sends a Python list as ``ARRAY[1, 2, 3]``: one constant per element that the
server parses, types and folds one by one, and that psycopg2 quotes one by one. For
the thousands of elements of an event batch that costs more than the statement's own
work (10,000 ids: ~48 ms as a list, ~2 ms as one literal); a single literal is
parsed by the array type's input function in one go.
"""

from __future__ import annotations

from collections.abc import Iterable


def int_array(values: Iterable[int | None]) -> str:
    """``{1,2,NULL}`` for a ``%s::bigint[]`` (or ``int[]``) parameter."""
    return "{" + ",".join("NULL" if v is None else str(int(v)) for v in values) + "}"


def float_array(values: Iterable[float]) -> str:
    return "{" + ",".join(repr(float(v)) for v in values) + "}"


def _quoted(value: str) -> str:
    if "\\" in value or '"' in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{value}"'


def text_array(values: Iterable[str | None]) -> str:
    """Each element quoted (commas, braces, quotes, spaces and ``NULL`` stay text), for
    ``%s::text[]``, ``varchar[]``, ``timestamptz[]`` (ISO strings) and the like."""
    return "{" + ",".join("NULL" if v is None else _quoted(v) for v in values) + "}"
