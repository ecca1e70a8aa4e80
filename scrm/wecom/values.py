"""Values as WeCom writes them, read into Python."""

from __future__ import annotations

from datetime import UTC, datetime


def wecom_time(value: object) -> datetime | None:
    """WeCom's epoch seconds (int or string) as an aware datetime; None when absent or 0."""
    try:
        seconds = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None
