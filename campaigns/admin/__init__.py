"""Admin of the campaigns app for ops (campaigns, templates, merchants, claims,
redemptions, refusals, blacklist, consent) and compliance (campaigns to review).

Compliance reviewers see campaigns and their templates, never customers' claims,
redemptions or the blacklist. Every write goes through the services.
"""

from . import campaign, merchant, records  # noqa: F401  (registers the admins)
