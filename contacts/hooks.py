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
