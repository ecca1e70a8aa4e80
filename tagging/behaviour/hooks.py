"""Where the apps above behaviour (tag rules, intent scores) take part when events
are recorded."""

from __future__ import annotations

from scrm.core.hooks import Hook

events_recorded = Hook(
    "events_recorded",
    "A batch of newly recorded events is ready to evaluate (``event_ids``: the ids of "
    "the rows that were new). Called by the batch task inside its transaction, at least "
    "once per batch (again after a lost worker): listeners must be idempotent.",
)
