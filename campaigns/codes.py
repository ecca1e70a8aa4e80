"""Coupon codes: 15 random symbols of Crockford's base32 and a Luhn mod 32 check symbol.

75 random bits make a code unguessable (a merchant probing codes is refused by the
API long before finding one), the check symbol catches a mistyped or misread
symbol and most swapped neighbours before any database lookup. Codes are read
aloud and typed at tills, so the alphabet has no I, L, O or U; when typed, I and L
are read as 1 and O as 0, case and separators are ignored.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_N = len(ALPHABET)
BODY_LENGTH = 15
CODE_LENGTH = BODY_LENGTH + 1
_TYPED = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None, " ": None})


def check_symbol(body: str) -> str:
    """The Luhn mod N check symbol of ``body`` (symbols of ``ALPHABET``)."""
    factor = 2
    total = 0
    for ch in reversed(body):
        addend = factor * _VALUE[ch]
        total += addend // _N + addend % _N
        factor = 1 if factor == 2 else 2
    return ALPHABET[(_N - total % _N) % _N]


def code_new() -> str:
    # 80 random bits, 5 per symbol: the first 75 make the body.
    bits = int.from_bytes(secrets.token_bytes(10), "big")
    body = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(BODY_LENGTH))
    return body + check_symbol(body)


def code_normalize(raw: object) -> str:
    """The code as stored (upper case, no separators), or "" when it cannot be one."""
    if not isinstance(raw, str) or len(raw) > 64:
        return ""
    return raw.strip().upper().translate(_TYPED)


def code_is_well_formed(code: str) -> bool:
    """Right length, alphabet and check symbol: worth looking up."""
    if len(code) != CODE_LENGTH or any(ch not in _VALUE for ch in code):
        return False
    return check_symbol(code[:-1]) == code[-1]


def code_display(code: str) -> str:
    """``ABCD-EFGH-JKMN-PQRS``: easier to read out at a till."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
