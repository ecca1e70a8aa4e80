"""Handlers for ``change_external_chat``: called by the WeCom inbox."""

from __future__ import annotations

import logging

from contacts.services import wecom_time
from scrm.wecom.errors import WeComPermanentError

from .sync import group_mark_dismissed, group_sync

logger = logging.getLogger(__name__)


def on_group_changed(fields: dict) -> None:
    """create, or update (members, owner, name, notice): reconcile from ``groupchat/get``."""
    try:
        group_sync(chat_id=fields["ChatId"])
    except WeComPermanentError as exc:
        # The group is gone or no longer ours to see: a later dismiss event settles it.
        logger.info("group not readable in WeCom", extra={"errcode": exc.errcode})


def on_group_dismissed(fields: dict) -> None:
    group_mark_dismissed(chat_id=fields["ChatId"], at=wecom_time(fields.get("CreateTime")))
