"""Handlers for ``change_external_chat``: called by the WeCom inbox.

Handlers re-read the group (never apply a callback's delta), so duplicated,
lost or reordered callbacks all end in WeCom's current state; then the pool
follows up (register auto-created rooms, roll the join way over, gate, notice).
"""

from __future__ import annotations

import logging

from scrm.wecom.errors import WeComPermanentError
from scrm.wecom.values import wecom_time

from .pools import group_follow_up
from .sync import group_mark_dismissed, group_sync

logger = logging.getLogger(__name__)


def on_group_changed(fields: dict) -> None:
    """create, or update (members, owner, name, notice): reconcile from ``groupchat/get``."""
    try:
        group, result = group_sync(chat_id=fields["ChatId"], state=str(fields.get("State") or ""))
    except WeComPermanentError as exc:
        # The group is gone or no longer ours to see: a later dismiss event settles it.
        logger.info("group not readable in WeCom", extra={"errcode": exc.errcode})
        return
    group_follow_up(group=group, result=result, state=str(fields.get("State") or ""))


def on_group_dismissed(fields: dict) -> None:
    from .models import CustomerGroup
    from .pools import pool_rotate_join_way

    if group_mark_dismissed(chat_id=fields["ChatId"], at=wecom_time(fields.get("CreateTime"))):
        pool_id = (
            CustomerGroup.objects.filter(chat_id=fields["ChatId"])
            .values_list("pool_id", flat=True)
            .first()
        )
        if pool_id:
            pool_rotate_join_way(pool_id=pool_id)
