"""The one domain error type services raise; the API turns it into JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RESERVED_KEYS = frozenset({"code", "message", "fields"})


class DomainError(Exception):
    """A business rule said no. ``code`` is stable and machine-readable, ``message`` is
    for people (in their language); ``data`` carries what a client needs to act on it
    (e.g. the banned phrases found, the stock left), returned beside code and message."""

    status = 400

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        data: Mapping[str, Any] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status
        clash = RESERVED_KEYS & set(data or ())
        if clash:
            raise ValueError(f"DomainError data may not use the keys {sorted(clash)}")
        self.data = dict(data or {})

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.data}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
