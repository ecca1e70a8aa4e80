"""Hooks of the campaign core: where the campaign kinds above it (lotteries, referral)
take part in the core's life cycle without the core importing them (see
``scrm.core.hooks``). Registered from the higher app's ``AppConfig.ready``."""

from scrm.core.hooks import Hook

review_texts = Hook(
    "campaigns.review_texts",
    "review_texts.call(campaign=...) -> lists of (where, text): more customer-facing texts of "
    "the campaign (a lottery's prize names), checked for banned phrases with the others.",
)
review_checks = Hook(
    "campaigns.review_checks",
    "review_checks.call(campaign=...): raise DomainError when the campaign is not ready for "
    "compliance review (called on submission and again on approval).",
)
