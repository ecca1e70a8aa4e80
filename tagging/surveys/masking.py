"""How survey respondents and their short texts are shown to those who may not see
personal data (D14)."""

from __future__ import annotations

REVEAL_PERMISSION = "contacts.reveal_pii"


def mask_name(name: str | None) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***."""
    if not name:
        return ""
    return name[0] + "*" * min(len(name) - 1, 3) if len(name) > 1 else "*"


def mask_text(text: str | None) -> str:
    """A short text answer, masked: its first character and a star per further
    character (at most eight)."""
    if not text:
        return ""
    return text[0] + "*" * min(len(text) - 1, 8) if len(text) > 1 else "*"
