"""Money is integer fen everywhere; this is how it is shown (never through a float)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def fen_display(fen: int) -> str:
    """12345 → "123.45" (yuan)."""
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def yuan_to_fen(text: str) -> int | None:
    """ "123.4" → 12340; None for anything that is not a non-negative amount with at
    most two decimals."""
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        return None
    return int(value * 100)
