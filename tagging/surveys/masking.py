"""How survey short texts are shown to those who may not see personal data (D14);
respondents' names are masked with ``contacts.crypto.mask_name``."""

from __future__ import annotations

REVEAL_PERMISSION = "contacts.reveal_pii"


def mask_text(text: str | None) -> str:
    """A short text answer, masked: its first character and a star per further
    character (at most eight)."""
    if not text:
        return ""
    return text[0] + "*" * min(len(text) - 1, 8) if len(text) > 1 else "*"
