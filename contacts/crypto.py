"""Phone hashing and batch encryption for personal data at rest (D14).

Fields use ``encrypted_model_fields`` (Fernet with ``FIELD_ENCRYPTION_KEY``).
Bulk imports encrypt hundreds of thousands of values at once; ``encrypt_many``
produces the very same Fernet tokens (the field decrypts them), but runs AES
over a whole batch in one call: in CBC mode a block's ciphertext is
AES(plaintext XOR previous block), with the random IV as the first "previous
block", so the XOR is done in Python and AES runs once per block position.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
import struct
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings

_NON_DIGITS = re.compile(r"\D+")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_PADS = {n: bytes([n]) * n for n in range(1, 17)}


def phone_normalize(raw: str | None) -> str | None:
    """Mainland mobile as 11 digits (``+86``/``0086`` and separators removed), or None."""
    if raw is None:
        return None
    digits = _NON_DIGITS.sub("", str(raw))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    elif len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    return digits if _MOBILE.match(digits) else None


def _hash_key() -> bytes:
    return settings.PHONE_HASH_KEY.encode()


def phone_hash(normalized: str) -> str:
    """Keyed hash (HMAC-SHA256, ``PHONE_HASH_KEY``) of a normalized phone: what matching joins on."""
    return hmac.digest(_hash_key(), normalized.encode(), "sha256").hex()


def phone_hasher():
    """A fast hashing function bound to the current key (for bulk work)."""
    key = _hash_key()
    digest = hmac.digest

    def _hash(normalized: str) -> str:
        return digest(key, normalized.encode(), "sha256").hex()

    return _hash


def mask_phone(phone: str | None) -> str:
    """138****1234 (D14: lists show phones masked)."""
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


def mask_id_number(value: str | None) -> str:
    if not value:
        return ""
    if len(value) <= 8:
        return "*" * len(value)
    return f"{value[:4]}{'*' * (len(value) - 8)}{value[-4:]}"


def _primary_key() -> bytes:
    keys = settings.FIELD_ENCRYPTION_KEY
    key = keys[0] if isinstance(keys, (list, tuple)) else keys
    raw = base64.urlsafe_b64decode(key)
    if len(raw) != 32:
        raise ValueError("FIELD_ENCRYPTION_KEY must be a 32-byte url-safe base64 Fernet key")
    return raw


def encrypt_many(values: list[str]) -> list[str]:
    """Fernet tokens for ``values`` (same format and key as the encrypted fields)."""
    if not values:
        return []
    raw_key = _primary_key()
    signing_key, encryption_key = raw_key[:16], raw_key[16:]
    # ECB here is only the raw block cipher: the CBC chaining is done explicitly below.
    ecb = Cipher(algorithms.AES(encryption_key), modes.ECB()).encryptor()  # noqa: S305
    n = len(values)
    ivs = os.urandom(16 * n)
    padded = []
    for v in values:
        data = v.encode()
        pad = 16 - len(data) % 16  # PKCS7
        padded.append(data + _PADS[pad])
    blocks_needed = max(len(p) for p in padded) // 16
    chains: list[list[bytes]] = [[] for _ in range(n)]
    prev = [ivs[i * 16 : (i + 1) * 16] for i in range(n)]
    from_bytes = int.from_bytes
    for b in range(blocks_needed):
        idx = [i for i in range(n) if len(padded[i]) > b * 16]
        xored = b"".join(
            (
                from_bytes(padded[i][b * 16 : b * 16 + 16], "big") ^ from_bytes(prev[i], "big")
            ).to_bytes(16, "big")
            for i in idx
        )
        out = ecb.update(xored)
        for k, i in enumerate(idx):
            block = out[k * 16 : k * 16 + 16]
            chains[i].append(block)
            prev[i] = block
    header = b"\x80" + struct.pack(">Q", int(time.time()))
    digest = hmac.digest
    b64 = base64.urlsafe_b64encode
    tokens = []
    for i in range(n):
        body = header + ivs[i * 16 : (i + 1) * 16] + b"".join(chains[i])
        tokens.append(b64(body + digest(signing_key, body, "sha256")).decode())
    return tokens
