"""Campaigns: benefits offered to customers in groups (D7). The top of the app order:
campaigns may read contacts, groups and tagging; nothing below imports it."""

from .abuse import Blacklist, ClaimRefusal
from .campaign import (
    Announcement,
    Campaign,
    CampaignContact,
    CampaignReviewQueue,
    CampaignStatusChange,
    CampaignVariant,
    MarketingConsent,
)
from .coupon import ClaimCounter, Coupon, CouponTemplate
from .merchant import IdempotencyRecord, Merchant, MerchantKey, MerchantStaff, Redemption, Store

__all__ = [
    "Announcement",
    "Blacklist",
    "Campaign",
    "CampaignContact",
    "CampaignReviewQueue",
    "CampaignStatusChange",
    "CampaignVariant",
    "ClaimCounter",
    "ClaimRefusal",
    "Coupon",
    "CouponTemplate",
    "IdempotencyRecord",
    "MarketingConsent",
    "Merchant",
    "MerchantKey",
    "MerchantStaff",
    "Redemption",
    "Store",
]
