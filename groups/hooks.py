"""Where the apps above groups (campaigns) take part when a customer joins or leaves a group.

Each hook is called by ``groups.sync`` in the transaction that records the change
(from WeCom's callbacks and from the nightly reconcile alike: both re-read the
group and write each actual change once); the higher app registers from its
``ready()``. Only customers known to contacts are reported.
"""

from __future__ import annotations

from scrm.core.hooks import Hook

member_joined = Hook(
    "member_joined",
    "A customer joined a group (``group``, ``customer``, ``joined_at``, ``join_scene``, "
    "``state``: the join way's state when the join came from a callback, else '').",
)
member_left = Hook(
    "member_left",
    "A customer left a group (``group``, ``customer``, ``left_at``).",
)
