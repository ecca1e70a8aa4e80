"""Which handler processes which callback event: one table, imported lazily.

Handlers take the event's fields (a dict of strings) and must be idempotent:
the inbox may run one twice (a redelivered task after a worker crash).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

Handler = Callable[[dict], None]

# (Event, ChangeType) → "module:function". Unknown pairs are kept and marked ignored.
HANDLERS: dict[tuple[str, str], str] = {
    ("change_external_contact", "add_external_contact"): "contacts.events:on_customer_added",
    ("change_external_contact", "add_half_external_contact"): "contacts.events:on_customer_added",
    ("change_external_contact", "edit_external_contact"): "contacts.events:on_customer_edited",
    (
        "change_external_contact",
        "del_external_contact",
    ): "contacts.events:on_customer_deleted_by_staff",
    ("change_external_contact", "del_follow_user"): "contacts.events:on_staff_deleted_by_customer",
    ("change_external_contact", "transfer_fail"): "contacts.events:on_transfer_failed",
    ("change_contact", "delete_user"): "contacts.events:on_staff_left",
    ("change_external_chat", "create"): "groups.events:on_group_changed",
    ("change_external_chat", "update"): "groups.events:on_group_changed",
    ("change_external_chat", "dismiss"): "groups.events:on_group_dismissed",
    ("change_external_tag", "create"): "tagging.events:on_tag_changed",
    ("change_external_tag", "update"): "tagging.events:on_tag_changed",
    ("change_external_tag", "delete"): "tagging.events:on_tag_deleted",
    ("change_external_tag", "shuffle"): "tagging.events:on_tags_shuffled",
}


def handler_for(fields: dict) -> Handler | None:
    target = HANDLERS.get((str(fields.get("Event") or ""), str(fields.get("ChangeType") or "")))
    if target is None:
        return None
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)
