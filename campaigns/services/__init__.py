"""Every write of the campaigns app, by subdomain: ``lifecycle`` (drafts, review,
status), ``claims``, ``redemption`` (with ``idempotency``), ``merchants`` (keys),
``abuse`` (blacklist), ``consent``, ``announce`` and ``expiry``."""
