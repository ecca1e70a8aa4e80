"""Where the apps above the content library take part when a message is built
(tagging.behaviour registers from its ``ready()``)."""

from __future__ import annotations

from scrm.core.hooks import Hook

link_tracked = Hook(
    "link_tracked",
    "A ``link`` attachment is about to be sent to one recipient (``url``, ``title``, "
    "``content_id``, and ``customer_id`` for a customer or ``group_id`` for a group "
    "message): a listener returns the URL to send instead (a tracked one), or None to "
    "leave it. Called by ``content_message_build`` only when the caller names the "
    "recipient, in the caller's transaction.",
)
