"""Welcome message and group notice of a pool (D5).

The welcome message (with the week's benefit schedule) is one WeCom group
welcome template per pool: editing it reaches every group that uses it, and
WeCom asks the owners to apply a new one in their client.

WeCom has no API to set a customer group's notice. The pool's notice is stored
here, each owner gets a task "update the group notice to …", and a group counts
as done when WeCom reports that notice on the group (a ``change_notice``
callback followed by the re-read) — or when its owner marks the task done.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm.core.errors import DomainError
from scrm.wecom.adapter import wecom
from scrm.wecom.errors import WeComError
from scrm.workspace.services import task_ensure

from .models import CustomerGroup, GroupPool
from .pools import TASK_KIND_NOTICE

logger = logging.getLogger(__name__)


def _same_text(a: str, b: str) -> bool:
    return "".join(a.split()) == "".join(b.split())


def pool_welcome_update(*, pool_id: int, text: str) -> GroupPool:
    """Set the pool's welcome message and push it to WeCom's group welcome template.

    WeCom is called with no transaction open; the result is recorded in a short one
    after. When two updates race and both create a template, the first recorded is
    kept, it gets the later text, and the other template is deleted in WeCom.
    """
    text = text.strip()
    if not text:
        raise DomainError("welcome_empty", _("请填写入群欢迎语"))
    if len(text.encode()) > 4000:
        raise DomainError("welcome_too_long", _("入群欢迎语不能超过4000字节"))
    template_id = GroupPool.objects.values_list("welcome_template_id", flat=True).get(pk=pool_id)
    created = ""
    try:
        if template_id:
            wecom.group_welcome_template_edit(template_id, text=text)
        else:
            created = wecom.group_welcome_template_add(text=text)
    except WeComError as exc:
        raise DomainError(
            "wecom_failed", _("企业微信更新入群欢迎语失败：%(e)s") % {"e": exc.errmsg}
        ) from exc
    orphan = ""
    with transaction.atomic():
        pool = GroupPool.objects.select_for_update().get(pk=pool_id)
        if created:
            if pool.welcome_template_id:
                orphan = created  # another update recorded its template first
            else:
                pool.welcome_template_id = created
        pool.welcome_text = text
        pool.welcome_version += 1
        pool.save(
            update_fields=["welcome_text", "welcome_template_id", "welcome_version", "updated_at"]
        )
        CustomerGroup.objects.filter(pool=pool, status=CustomerGroup.Status.NORMAL).update(
            welcome_version=pool.welcome_version
        )
    if orphan:
        try:
            wecom.group_welcome_template_edit(pool.welcome_template_id, text=text)
            wecom.group_welcome_template_delete(orphan)
        except WeComError:
            logger.warning("welcome template race: could not settle", extra={"pool_id": pool.pk})
    return pool


@transaction.atomic
def pool_notice_update(*, pool_id: int, text: str) -> int:
    """Store the pool's notice template; every live group's owner gets a task. Returns
    how many tasks were created."""
    text = text.strip()
    if not text:
        raise DomainError("notice_empty", _("请填写群公告"))
    pool = GroupPool.objects.select_for_update().get(pk=pool_id)
    if _same_text(text, pool.notice_text):
        return 0
    pool.notice_text = text
    pool.notice_version += 1
    pool.save(update_fields=["notice_text", "notice_version", "updated_at"])
    created = 0
    groups = CustomerGroup.objects.filter(pool=pool, status=CustomerGroup.Status.NORMAL)
    for group in groups.select_related("owner", "pool"):
        created += int(group_notice_follow_up(group=group))
    return created


def group_notice_follow_up(*, group: CustomerGroup) -> bool:
    """Mark the pool's notice as applied when WeCom shows it, else make sure the owner
    has the task. Returns True when a task was created."""
    pool = group.pool
    if pool is None or not pool.notice_text or group.notice_version >= pool.notice_version:
        return False
    if _same_text(group.notice, pool.notice_text):
        CustomerGroup.objects.filter(pk=group.pk, notice_version__lt=pool.notice_version).update(
            notice_version=pool.notice_version
        )
        group.notice_version = pool.notice_version
        return False
    if group.owner is None:
        return False
    _task, created = task_ensure(
        staff=group.owner,
        kind=TASK_KIND_NOTICE,
        title=_("更新群公告：%(group)s") % {"group": group},
        detail=(_("请在企业微信中将群公告更新为：") + pool.notice_text)[:255],
        dedupe_key=f"group-notice:{group.pk}:v{pool.notice_version}",
        due_date=timezone.localdate(),
        group=group,
    )
    return created


def pool_welcome_new_group(*, group: CustomerGroup) -> None:
    """A room that joined the pool uses the pool's template (WeCom notified its owner)."""
    pool = group.pool
    if pool is not None and pool.welcome_template_id:
        CustomerGroup.objects.filter(pk=group.pk).update(welcome_version=pool.welcome_version)
