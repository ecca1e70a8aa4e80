"""A customer's personal signed links: the claim link of one campaign and the
"my coupons" link.

Each token names the customer (and the campaign) without a login; it is signed
with the secret key under a salt of its own, so a join, verify or unsubscribe
link can never pass as a claim link, it expires, and it cannot be altered to
name someone else.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.translation import gettext as _

from scrm.core.links import LinkInvalid, signed_read
from scrm.core.links import positive_int as _positive_int

CLAIM_LINK_SALT = "campaigns.claim-link"
WALLET_LINK_SALT = "campaigns.wallet-link"
DEFAULT_CLAIM_LINK_MAX_AGE_S = 14 * 24 * 3600
DEFAULT_WALLET_LINK_MAX_AGE_S = 90 * 24 * 3600
# The page a campaign kind above the core opens from a customer's personal link, by URL
# name (registered from that app's ``AppConfig.ready``): a lottery's opens its draw page.
PERSONAL_LINK_VIEWS: dict[str, str] = {}


@dataclass(frozen=True)
class ClaimLink:
    customer_id: int
    campaign_id: int


def claim_token_make(*, customer_id: int, campaign_id: int) -> str:
    return signing.TimestampSigner(salt=CLAIM_LINK_SALT).sign_object(
        {"c": customer_id, "k": campaign_id}, compress=True
    )


def claim_token_read(token: str) -> ClaimLink:
    """The customer and campaign of a claim link; ``LinkInvalid`` for a forged,
    altered, foreign or expired one."""
    max_age = getattr(settings, "CAMPAIGN_CLAIM_LINK_MAX_AGE_S", DEFAULT_CLAIM_LINK_MAX_AGE_S)
    data = signed_read(token, salt=CLAIM_LINK_SALT, max_age=max_age)
    customer_id, campaign_id = _positive_int(data.get("c")), _positive_int(data.get("k"))
    if customer_id is None or campaign_id is None:
        raise LinkInvalid(_("链接无效"), reason="bad_payload")
    return ClaimLink(customer_id=customer_id, campaign_id=campaign_id)


def wallet_token_make(*, customer_id: int) -> str:
    """The customer's "my coupons" token. Every claim answer carries one, so a process
    signs it once an hour per customer: a link handed out later in the hour lives as
    long as the first, less that hour (of the 90 days)."""
    return _wallet_token(customer_id, int(time.time() // 3600))


@functools.lru_cache(maxsize=4096)
def _wallet_token(customer_id: int, _hour: int) -> str:
    return signing.TimestampSigner(salt=WALLET_LINK_SALT).sign_object({"c": customer_id})


def wallet_token_read(token: str) -> int:
    """The customer of a "my coupons" link."""
    max_age = getattr(settings, "CAMPAIGN_WALLET_LINK_MAX_AGE_S", DEFAULT_WALLET_LINK_MAX_AGE_S)
    customer_id = _positive_int(signed_read(token, salt=WALLET_LINK_SALT, max_age=max_age).get("c"))
    if customer_id is None:
        raise LinkInvalid(_("链接无效"), reason="bad_payload")
    return customer_id


def _absolute(path: str) -> str:
    return settings.SCRM_PUBLIC_URL.rstrip("/") + path


def claim_url(*, customer_id: int, campaign_id: int) -> str:
    token = claim_token_make(customer_id=customer_id, campaign_id=campaign_id)
    return _absolute(reverse("campaigns:h5-claim", args=[token]))


def wallet_url(*, customer_id: int) -> str:
    return _absolute(
        reverse("campaigns:h5-coupons", args=[wallet_token_make(customer_id=customer_id)])
    )


def redeem_url(*, code: str) -> str:
    """What a coupon's QR code holds: the store staff's redeem page with the code filled in."""
    return _absolute(reverse("campaigns:merchant-redeem") + f"?code={code}")
