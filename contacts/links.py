"""A customer's personal signed links: the token that names them without a login.

The join-link token (sent in the welcome message or by the manager) carries the
customer's ``external_userid``, signed and timestamped; the H5 join page reads it
to route the customer to their region's group (D3).
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext as _

from scrm.core.errors import DomainError

JOIN_TOKEN_SALT = "groups.join-link"  # noqa: S105 - a namespace for signatures, not a secret
DEFAULT_JOIN_TOKEN_MAX_AGE_S = 7 * 24 * 3600


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=JOIN_TOKEN_SALT)


def join_token_make(*, external_userid: str) -> str:
    """A personal join link token (sent in the welcome message or by the manager)."""
    if not external_userid:
        raise DomainError("customer_required", _("缺少客户"))
    return _signer().sign(external_userid)


def join_token_read(*, token: str) -> str | None:
    """The customer's external_userid, or None for a forged or expired link."""
    max_age = getattr(settings, "GROUP_JOIN_TOKEN_MAX_AGE_S", DEFAULT_JOIN_TOKEN_MAX_AGE_S)
    try:
        return _signer().unsign(token, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return None
