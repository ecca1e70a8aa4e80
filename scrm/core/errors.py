"""The one domain error type services raise; the API turns it into JSON."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule said no. ``code`` is stable and machine-readable."""

    status = 400

    def __init__(self, code: str, message: str, *, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
