"""An inviter's personal invite link: signed, under its own salt, naming the customer and
the referral campaign (so it can never pass as a claim, join or wallet link)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.translation import gettext as _

from campaigns.links import LinkInvalid, signed_read

INVITE_LINK_SALT = "referral.invite-link"
DEFAULT_INVITE_LINK_MAX_AGE_S = 60 * 24 * 3600


@dataclass(frozen=True)
class InviteLink:
    customer_id: int
    campaign_id: int


def _positive_int(value) -> int | None:
    return value if type(value) is int and value > 0 else None


def invite_token_make(*, customer_id: int, campaign_id: int) -> str:
    return signing.TimestampSigner(salt=INVITE_LINK_SALT).sign_object(
        {"c": customer_id, "k": campaign_id}, compress=True
    )


def invite_token_read(token: str) -> InviteLink:
    """The inviter and campaign of an invite link; ``LinkInvalid`` for a forged,
    altered, foreign or expired one."""
    max_age = getattr(settings, "REFERRAL_INVITE_LINK_MAX_AGE_S", DEFAULT_INVITE_LINK_MAX_AGE_S)
    data = signed_read(token, salt=INVITE_LINK_SALT, max_age=max_age)
    customer_id, campaign_id = _positive_int(data.get("c")), _positive_int(data.get("k"))
    if customer_id is None or campaign_id is None:
        raise LinkInvalid(_("链接无效"), reason="bad_payload")
    return InviteLink(customer_id=customer_id, campaign_id=campaign_id)


def invite_url(*, customer_id: int, campaign_id: int) -> str:
    token = invite_token_make(customer_id=customer_id, campaign_id=campaign_id)
    return settings.SCRM_PUBLIC_URL.rstrip("/") + reverse("referral:h5-invite", args=[token])
