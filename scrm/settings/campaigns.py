"""Coupon campaigns: how long customers' personal links live, and the claim path's SQL."""

from __future__ import annotations

from .env import env, env_bool

# A claim link (sent in a welcome, an SOP message or by a manager) and the link to the
# customer's own coupons ("my coupons"), in seconds.
CAMPAIGN_CLAIM_LINK_MAX_AGE_S = env.int("CAMPAIGN_CLAIM_LINK_MAX_AGE_S", default=14 * 24 * 3600)
CAMPAIGN_WALLET_LINK_MAX_AGE_S = env.int("CAMPAIGN_WALLET_LINK_MAX_AGE_S", default=90 * 24 * 3600)
# The claim statement is prepared once per connection. Behind PgBouncer in transaction
# mode set this to false: the same SQL then runs unprepared.
CAMPAIGNS_PREPARED_STATEMENTS = env_bool("CAMPAIGNS_PREPARED_STATEMENTS", True)
