"""Personal data at rest (D14): the field encryption key and the phone-hash key.

``FIELD_ENCRYPTION_KEY`` is a Fernet key (or a comma-separated list: the first
encrypts, all decrypt, so keys can be rotated). ``PHONE_HASH_KEY`` keys the
HMAC-SHA256 used to match phones without decrypting them; it is separate so the
hash index stays useful to someone who never holds the encryption key. The
defaults below only serve development and tests; production refuses to start
without both.
"""

from __future__ import annotations

from .env import env

DEV_FIELD_ENCRYPTION_KEY = "ZGV2LW9ubHktZmllbGQta2V5LWNoYW5nZS1tZS0wMDA="
DEV_PHONE_HASH_KEY = "dev-only-phone-hash-key-change-me"

FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[DEV_FIELD_ENCRYPTION_KEY])
PHONE_HASH_KEY = env.str("PHONE_HASH_KEY", default=DEV_PHONE_HASH_KEY)

# Audit records are kept this long (days; never less than six months, 183 days); the
# nightly purge (beat: core-audit-purge) deletes older ones, the purge command refuses
# younger ones.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=183)
# How long a signed H5 link (verify phone, unsubscribe) stays valid, in seconds.
H5_LINK_MAX_AGE_S = env.int("H5_LINK_MAX_AGE_S", default=7 * 24 * 3600)
