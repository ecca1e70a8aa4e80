"""Where the apps above contacts (tagging, campaigns) take part in what contacts does.

Each hook is called by contacts; the higher app registers from its ``ready()``.
"""

from __future__ import annotations

from scrm.core.hooks import Hook

customer_wecom_tags = Hook(
    "customer_wecom_tags",
    "A customer was read from WeCom with these corp tag ids (``customer``, "
    "``wecom_tag_ids``); returns (added, removed). Called inside the upsert's transaction.",
)
customer_channel_attributed = Hook(
    "customer_channel_attributed",
    "A customer came in through a channel code (``customer``, ``channel``, ``staff``); "
    "returns how many things were applied (e.g. the channel's tags).",
)
customer_labels = Hook(
    "customer_labels",
    "Short labels to show beside customers in lists (``customer_ids``); returns "
    "{customer_id: [label, ...]}, labels in display order.",
)
customer_added = Hook(
    "customer_added",
    "A customer added a staff member (``customer``, ``staff``, ``relation``, ``state``, "
    "``added_at``): e.g. a referral attributes the add to its inviter by ``state``. Called "
    "once per add event (again on a replayed callback: listeners must be idempotent), "
    "with no transaction open.",
)
follow_relation_ended = Hook(
    "follow_relation_ended",
    "A follow relation ended (``relation``, ``status``, ``at``): staff removed the customer, "
    "the customer removed staff, or a transfer. Called inside the ending's transaction, "
    "once per change of status.",
)
customer_insights = Hook(
    "customer_insights",
    "Sections for the customer page (``customer``, ``user``: the customer is already "
    'one the user may see); returns a list of {"key", "title", "html"} (html safe, '
    "rendered by the higher app, personal data masked), in display order.",
)
