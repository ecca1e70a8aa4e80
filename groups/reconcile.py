"""The nightly reconcile's groups step: customer group chats of the follow users.

Registered with ``scrm.wecom.sync`` from ``GroupsConfig.ready``. The pull mirrors
every group WeCom lists (members included) through ``groups.sync``; groups of
those owners that WeCom no longer lists are collected and dismissed by the end,
after the reconcile's mass-removal guard let the run through.
"""

from __future__ import annotations

from django.utils import timezone

from scrm.wecom.adapter import wecom
from scrm.wecom.sync import ReconcileContext

from .models import CustomerGroup
from .sync import group_mark_dismissed, group_sync

GROUPS = "groups"


def groups_pull(ctx: ReconcileContext) -> None:
    userids = ctx.follow_userids
    seen = set()
    for item in wecom.group_chats(owners=userids or None):
        group, result = group_sync(chat_id=item["chat_id"])
        seen.add(group.chat_id)
        ctx.report.add("groups_created", int(result.created))
        ctx.report.add("group_members_added", result.members_added)
        ctx.report.add("group_members_removed", result.members_removed)
    normal = CustomerGroup.objects.filter(status=CustomerGroup.Status.NORMAL)
    removal = ctx.removal(GROUPS)
    removal.active = normal.count()
    if userids:
        # Without follow users WeCom lists no owners, so "not listed" would mean nothing.
        removal.items = list(
            normal.filter(owner_userid__in=userids)
            .exclude(chat_id__in=seen)
            .values_list("chat_id", flat=True)
        )


def groups_end(ctx: ReconcileContext) -> None:
    at = ctx.ended_at or timezone.now()
    for chat_id in ctx.removal(GROUPS).items:
        ctx.report.add("groups_dismissed", int(group_mark_dismissed(chat_id=chat_id, at=at)))
