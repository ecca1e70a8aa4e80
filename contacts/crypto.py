"""Phone hashing and batch encryption for personal data at rest (D14).

Fields use ``encrypted_model_fields`` (Fernet with ``FIELD_ENCRYPTION_KEY``).
Bulk imports encrypt hundreds of thousands of values at once; ``encrypt_many``
produces the very same Fernet tokens (the field decrypts them), but runs AES
over a whole batch in one call: in CBC mode a block's ciphertext is
AES(plaintext XOR previous block), with the random IV as the first "previous
block", so values of one padded length are laid out column by column, XORed
with their previous blocks as one big integer, and AES runs once per block
position over the whole group.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import struct
import time
from array import array
from binascii import b2a_base64

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings

_NON_DIGITS = re.compile(r"\D+")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_PLAIN_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_PADS = {n: bytes([n]) * n for n in range(1, 17)}
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def phone_normalize(raw: str | None) -> str | None:
    """Mainland mobile as 11 digits (``+86``/``0086`` and separators removed), or None."""
    if raw is None:
        return None
    if type(raw) is str and len(raw) == 11 and _PLAIN_MOBILE.fullmatch(raw):
        return raw  # already normalized: the common case in bulk imports
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


def mask_name(name: str | None) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧*** (D14: names shown to those who may not see them)."""
    if not name:
        return ""
    return name[0] + "*" * min(len(name) - 1, 3) if len(name) > 1 else "*"


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
    header = b"\x80" + struct.pack(">Q", int(time.time()))
    # Values padding to the same number of blocks are encrypted together, one block
    # position at a time, so every AES call and XOR covers the whole group.
    groups: dict[int, list[int]] = {}
    padded: list[bytes] = []
    for i, v in enumerate(values):
        data = v.encode()
        data += _PADS[16 - len(data) % 16]  # PKCS7
        padded.append(data)
        groups.setdefault(len(data), []).append(i)
    tokens: list[str] = [""] * len(values)
    # HMAC-SHA256 from the key's precomputed inner and outer states: the same digest as
    # hmac.digest, at well under half the cost per token for short messages.
    block_key = signing_key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(x ^ 0x36 for x in block_key))
    outer = hashlib.sha256(bytes(x ^ 0x5C for x in block_key))
    for size, members in groups.items():
        n = len(members)
        words = size // 8  # a block is two 64-bit words
        plain = array("Q", b"".join([padded[i] for i in members]))
        ivs = os.urandom(16 * n)
        cipher = array("Q", bytes(size * n))
        prev = ivs
        column = array("Q", bytes(16 * n))
        for b in range(0, words, 2):
            # Block b of every member, side by side: strided slices stay in C.
            column[0::2] = plain[b::words]
            column[1::2] = plain[b + 1 :: words]
            xored = (
                int.from_bytes(column.tobytes(), "little") ^ int.from_bytes(prev, "little")
            ).to_bytes(16 * n, "little")
            prev = ecb.update(xored)
            out = array("Q", prev)
            cipher[b::words] = out[0::2]
            cipher[b + 1 :: words] = out[1::2]
        body = cipher.tobytes()
        encoded = []
        for k in range(n):
            token = header + ivs[16 * k : 16 * k + 16] + body[size * k : size * (k + 1)]
            h = inner.copy()
            h.update(token)
            mac = outer.copy()
            mac.update(h.digest())
            encoded.append(b2a_base64(token + mac.digest(), newline=False))
        # Tokens of one group have one length: encode to url-safe text once, then cut.
        text = b"".join(encoded).translate(_URLSAFE).decode()
        length = len(text) // n
        for k, i in enumerate(members):
            tokens[i] = text[length * k : length * (k + 1)]
    return tokens
