"""Writes on corp tags, both ways with WeCom (D9).

From WeCom: tag groups/tags (sync and ``change_external_tag``) and customers'
WeCom tags. To WeCom: ops' edits in the admin, and customers' tags via
``mark_tag`` from Celery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import FollowRelation
from scrm.core.errors import DomainError

from .models import CustomerTag, Tag, TagGroup


@dataclass
class TagSyncReport:
    groups_created: int = 0
    groups_updated: int = 0
    groups_deleted: int = 0
    tags_created: int = 0
    tags_updated: int = 0
    tags_deleted: int = 0
    seen_group_ids: set[str] = field(default_factory=set)
    seen_tag_ids: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}


def _upsert_group(item: dict, now, report: TagSyncReport) -> TagGroup:
    wecom_id = str(item["group_id"])
    group = TagGroup.objects.select_for_update().filter(wecom_id=wecom_id).first()
    if group is None:
        # A group created here first (same name, no WeCom id yet) is the same group.
        group = (
            TagGroup.objects.select_for_update()
            .filter(name=item["group_name"], wecom_id__isnull=True)
            .first()
        )
    values = {
        "wecom_id": wecom_id,
        "name": str(item.get("group_name") or "")[:30],
        "order": int(item.get("order") or 0),
        "is_deleted": bool(item.get("deleted")),
    }
    if group is None:
        # A stale local group holding this name (deleted in WeCom, re-created) gives it up.
        TagGroup.objects.filter(name=values["name"]).exclude(wecom_id=wecom_id).update(
            name=f"{values['name'][:20]}~{wecom_id[-8:]}", is_deleted=True
        )
        group = TagGroup.objects.create(**values, synced_at=now)
        report.groups_created += 1
        return group
    if any(getattr(group, k) != v for k, v in values.items()):
        for k, v in values.items():
            setattr(group, k, v)
        report.groups_updated += 1
    group.synced_at = now
    group.save()
    return group


def _upsert_tag(group: TagGroup, item: dict, now, report: TagSyncReport) -> Tag:
    wecom_id = str(item["id"])
    tag = Tag.objects.select_for_update().filter(wecom_id=wecom_id).first()
    if tag is None:
        tag = (
            Tag.objects.select_for_update()
            .filter(group=group, name=item["name"], wecom_id__isnull=True)
            .first()
        )
    values = {
        "group": group,
        "wecom_id": wecom_id,
        "name": str(item.get("name") or "")[:30],
        "order": int(item.get("order") or 0),
        "is_deleted": bool(item.get("deleted")),
    }
    if tag is None:
        Tag.objects.filter(group=group, name=values["name"]).exclude(wecom_id=wecom_id).update(
            name=f"{values['name'][:20]}~{wecom_id[-8:]}", is_deleted=True
        )
        tag = Tag.objects.create(**values, synced_at=now)
        report.tags_created += 1
        return tag
    if any(getattr(tag, k) != v for k, v in values.items()):
        for k, v in values.items():
            setattr(tag, k, v)
        report.tags_updated += 1
    tag.synced_at = now
    tag.save()
    return tag


@transaction.atomic
def tag_groups_upsert_from_wecom(
    *, tag_groups: list[dict], full: bool = False, scope_group_ids: list[str] | None = None
) -> TagSyncReport:
    """Mirror ``get_corp_tag_list`` output. ``full``: anything not listed is deleted in WeCom.

    With ``scope_group_ids`` only those groups' tags are reconciled (a shuffle of one group).
    """
    now = timezone.now()
    report = TagSyncReport()
    for item in tag_groups:
        group = _upsert_group(item, now, report)
        report.seen_group_ids.add(group.wecom_id or "")
        for tag_item in item.get("tag") or []:
            tag = _upsert_tag(group, tag_item, now, report)
            report.seen_tag_ids.add(tag.wecom_id or "")
        if full or scope_group_ids:
            report.tags_deleted += (
                Tag.objects.filter(group=group, wecom_id__isnull=False, is_deleted=False)
                .exclude(wecom_id__in=report.seen_tag_ids)
                .update(is_deleted=True)
            )
    if full:
        gone = TagGroup.objects.filter(wecom_id__isnull=False, is_deleted=False).exclude(
            wecom_id__in=report.seen_group_ids
        )
        report.tags_deleted += Tag.objects.filter(group__in=gone, is_deleted=False).update(
            is_deleted=True
        )
        report.groups_deleted += gone.update(is_deleted=True)
    elif scope_group_ids:
        gone = TagGroup.objects.filter(wecom_id__in=scope_group_ids, is_deleted=False).exclude(
            wecom_id__in=report.seen_group_ids
        )
        report.tags_deleted += Tag.objects.filter(group__in=gone, is_deleted=False).update(
            is_deleted=True
        )
        report.groups_deleted += gone.update(is_deleted=True)
    return report


@transaction.atomic
def tag_mark_deleted(*, wecom_id: str, tag_type: str) -> int:
    """A ``change_external_tag``/``delete``: a tag, or a whole group (no per-tag events then)."""
    if tag_type == "tag_group":
        count = Tag.objects.filter(group__wecom_id=wecom_id, is_deleted=False).update(
            is_deleted=True
        )
        return count + TagGroup.objects.filter(wecom_id=wecom_id, is_deleted=False).update(
            is_deleted=True
        )
    return Tag.objects.filter(wecom_id=wecom_id, is_deleted=False).update(is_deleted=True)


@transaction.atomic
def customer_tags_mirror_from_wecom(*, customer, wecom_tag_ids: set[str]) -> tuple[int, int]:
    """The customer's corp tags as WeCom has them: add missing, drop WeCom-sourced ones gone.

    Tags set by our own rules or staff (other sources) are left alone; unknown tag
    ids (not yet mirrored) are skipped until the next tag sync.
    """
    now = timezone.now()
    tags = (
        {t.wecom_id: t for t in Tag.objects.filter(wecom_id__in=wecom_tag_ids)}
        if wecom_tag_ids
        else {}
    )
    have = set(
        CustomerTag.objects.filter(customer=customer).values_list("tag__wecom_id", flat=True)
    )
    added = 0
    for wecom_id, tag in tags.items():
        if wecom_id not in have:
            _obj, created = CustomerTag.objects.get_or_create(
                customer=customer,
                tag=tag,
                defaults={"source": CustomerTag.Source.WECOM, "synced_at": now},
            )
            added += int(created)
    removed, _ = (
        CustomerTag.objects.filter(customer=customer, source=CustomerTag.Source.WECOM)
        .exclude(tag__wecom_id__in=list(tags))
        .delete()
    )
    return added, removed


# --------------------------------------------------------------------------- to WeCom
# Ops edit tag groups and tags in the admin; each change goes to WeCom first-hand so
# managers see the same tags in their client (D9).


def _wecom_failed(exc: Exception, *, what: str) -> DomainError:
    from scrm.wecom.errors import WeComError

    if isinstance(exc, WeComError):
        return DomainError(
            "wecom_tag_failed",
            _("%(what)s未能同步到企业微信（错误码 %(code)s）：%(msg)s")
            % {"what": what, "code": exc.errcode, "msg": exc.errmsg[:80]},
        )
    return DomainError("wecom_tag_failed", str(exc))


@transaction.atomic
def tag_group_push(*, group_id: int) -> TagGroup:
    """Create or update a local tag group and its tags in WeCom, then keep WeCom's ids.

    A group with no live tags cannot exist in WeCom (no empty groups): it waits
    locally until it has one. Raises ``DomainError`` when WeCom refuses.
    """
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WeComError

    group = TagGroup.objects.select_for_update().get(pk=group_id)
    if group.is_deleted:
        raise DomainError("tag_group_deleted", _("标签组已删除"))
    tags = list(group.tags.filter(is_deleted=False).order_by("pk"))
    for tag in tags:
        if not tag.name.strip() or len(tag.name) > 30:
            raise DomainError("tag_name_invalid", _("标签名称不能为空，且不超过 30 个字"))
    new = [t for t in tags if not t.wecom_id]
    now = timezone.now()
    try:
        if not group.wecom_id:
            if not new:
                raise DomainError(
                    "tag_group_empty", _("企业微信不允许空标签组：请至少添加一个标签")
                )
            result = wecom.corp_tag_add(
                group_name=group.name,
                order=group.order,
                tags=[{"name": t.name, "order": t.order} for t in new],
            )
            group.wecom_id = str(result["group_id"])
        else:
            current = {g["group_id"]: g for g in wecom.corp_tags(group_ids=[group.wecom_id])}
            remote = current.get(group.wecom_id)
            if remote is None:
                raise DomainError("tag_group_gone", _("该标签组已在企业微信中删除，请先同步标签"))
            if (
                remote.get("group_name") != group.name
                or int(remote.get("order") or 0) != group.order
            ):
                wecom.corp_tag_edit(group.wecom_id, name=group.name, order=group.order)
            remote_tags = {str(t["id"]): t for t in remote.get("tag") or []}
            for tag in tags:
                r = remote_tags.get(tag.wecom_id or "")
                if r is not None and (
                    r.get("name") != tag.name or int(r.get("order") or 0) != tag.order
                ):
                    wecom.corp_tag_edit(tag.wecom_id, name=tag.name, order=tag.order)
            result = (
                wecom.corp_tag_add(
                    group_id=group.wecom_id, tags=[{"name": t.name, "order": t.order} for t in new]
                )
                if new
                else None
            )
    except WeComError as exc:
        raise _wecom_failed(exc, what=_("标签组「%(name)s」") % {"name": group.name}) from exc
    if result is not None:
        by_name = {str(t["name"]): str(t["id"]) for t in result.get("tag") or []}
        for tag in new:
            tag.wecom_id = by_name.get(tag.name)
            tag.synced_at = now
            tag.save(update_fields=["wecom_id", "synced_at"])
    Tag.objects.filter(group=group, is_deleted=False, wecom_id__isnull=False).update(synced_at=now)
    group.synced_at = now
    group.save(update_fields=["wecom_id", "synced_at"])
    return group


@transaction.atomic
def tag_delete(*, tag_id: int) -> Tag:
    """Delete a tag in WeCom and keep it here marked deleted (customers' history stays)."""
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WeComPermanentError

    tag = Tag.objects.select_for_update().select_related("group").get(pk=tag_id)
    if tag.wecom_id:
        try:
            wecom.corp_tag_delete(tag_ids=[tag.wecom_id])
        except WeComPermanentError as exc:
            if exc.errcode != 40068:  # already gone in WeCom: nothing left to delete there
                raise _wecom_failed(exc, what=_("标签「%(name)s」") % {"name": tag.name}) from exc
        except Exception as exc:
            raise _wecom_failed(exc, what=_("标签「%(name)s」") % {"name": tag.name}) from exc
    tag.is_deleted = True
    tag.save(update_fields=["is_deleted"])
    # WeCom deletes a group left empty; so do we.
    group = tag.group
    if not group.tags.filter(is_deleted=False).exists() and group.wecom_id:
        TagGroup.objects.filter(pk=group.pk).update(
            is_deleted=True, name=f"{group.name[:20]}~{group.pk}"
        )
    return tag


@transaction.atomic
def tag_group_delete(*, group_id: int) -> TagGroup:
    """Delete a group (and its tags) in WeCom; both stay here marked deleted."""
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WeComPermanentError

    group = TagGroup.objects.select_for_update().get(pk=group_id)
    if group.wecom_id:
        try:
            wecom.corp_tag_delete(group_ids=[group.wecom_id])
        except WeComPermanentError as exc:
            if exc.errcode != 40068:
                raise _wecom_failed(
                    exc, what=_("标签组「%(name)s」") % {"name": group.name}
                ) from exc
        except Exception as exc:
            raise _wecom_failed(exc, what=_("标签组「%(name)s」") % {"name": group.name}) from exc
    Tag.objects.filter(group=group).update(is_deleted=True)
    group.is_deleted = True
    # The name is free again for a new group (names are unique here and in WeCom).
    if not group.name.endswith(f"~{group.pk}"):
        group.name = f"{group.name[:20]}~{group.pk}"
    group.save(update_fields=["is_deleted", "name"])
    return group


# --------------------------------------------------------------------------- customer tags


@transaction.atomic
def customer_tag_add(*, customer, tag: Tag, source: str, staff=None) -> tuple[CustomerTag, bool]:
    """Tag a customer (D9); WeCom gets it later from ``customer_tags_push`` (on commit).

    A tag the customer already carries keeps its first source and time.
    """
    if tag.is_deleted:
        raise DomainError("tag_deleted", _("标签已删除"))
    if source not in CustomerTag.Source.values:
        raise DomainError("tag_source_invalid", _("标签来源无效"))
    row, created = CustomerTag.objects.get_or_create(
        customer=customer, tag=tag, defaults={"source": source, "staff": staff}
    )
    if created:
        customer_tags_push_on_commit(customer_id=customer.pk)
    return row, created


def _relations_in_wecom(customer_id: int) -> list:
    """The customer's relations that carry corp tags in WeCom (active or half)."""
    return list(
        FollowRelation.objects.filter(
            customer_id=customer_id,
            status__in=[FollowRelation.Status.ACTIVE, FollowRelation.Status.HALF],
        ).select_related("customer", "staff")
    )


@transaction.atomic
def customer_tags_remove(*, rows) -> int:
    """Take tags off customers here and in WeCom (``mark_tag`` with ``remove_tag``).

    The rows go at once; WeCom hears of it from a task after commit, per
    customer. Tags WeCom never had (no ``wecom_id``) need no call.
    """
    rows = list(rows)
    by_customer: dict[int, set[str]] = {}
    for row in rows:
        if row.tag.wecom_id:
            by_customer.setdefault(row.customer_id, set()).add(row.tag.wecom_id)
    CustomerTag.objects.filter(pk__in=[row.pk for row in rows]).delete()
    from .tasks import customer_tags_remove_push as task

    for customer_id, wecom_ids in by_customer.items():
        ids = sorted(wecom_ids)
        transaction.on_commit(lambda c=customer_id, i=ids: task.delay(c, i))
    return len(rows)


def customer_tags_remove_push(*, customer_id: int, wecom_tag_ids: list[str]) -> int:
    """Remove the given corp tags from every active relation of the customer in WeCom.

    A tag the customer got back in the meantime is left alone; a relation that
    is gone (84061) or a tag WeCom no longer knows (40068) needs nothing more.
    """
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import NOT_EXTERNAL_CONTACT, WeComPermanentError

    back = set(
        CustomerTag.objects.filter(
            customer_id=customer_id, tag__wecom_id__in=wecom_tag_ids
        ).values_list("tag__wecom_id", flat=True)
    )
    remove = sorted(set(wecom_tag_ids) - back)
    if not remove:
        return 0
    done = 0
    for relation in _relations_in_wecom(customer_id):
        try:
            wecom.tags_mark(
                userid=relation.staff.userid,
                external_userid=relation.customer.external_userid,
                remove=remove,
            )
        except WeComPermanentError as exc:
            if exc.errcode in (NOT_EXTERNAL_CONTACT, 40068):
                continue
            raise
        done += 1
    return done


def customer_tags_push_on_commit(*, customer_id: int) -> None:
    from .tasks import customer_tags_push as task

    transaction.on_commit(lambda: task.delay(customer_id))


def customer_tags_push(*, customer_id: int) -> int:
    """Send the customer's unsynced corp tags to WeCom: one ``mark_tag`` per relation.

    Corp tags in WeCom hang on each (member, customer) relation, so every active
    relation gets them. Idempotent: marking a tag twice changes nothing in WeCom,
    and rows are stamped ``synced_at`` only after every relation took them.
    Retryable WeCom errors propagate (the task retries); a relation that is gone
    (84061) is skipped; an unknown tag id (40068) triggers a tag resync.
    """
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import NOT_EXTERNAL_CONTACT, WeComPermanentError

    pending = list(
        CustomerTag.objects.filter(
            customer_id=customer_id,
            synced_at__isnull=True,
            tag__wecom_id__isnull=False,
            tag__is_deleted=False,
        ).select_related("tag")
    )
    if not pending:
        return 0
    relations = _relations_in_wecom(customer_id)
    tag_ids = sorted({row.tag.wecom_id for row in pending})
    for relation in relations:
        try:
            wecom.tags_mark(
                userid=relation.staff.userid,
                external_userid=relation.customer.external_userid,
                add=tag_ids,
            )
        except WeComPermanentError as exc:
            if exc.errcode == NOT_EXTERNAL_CONTACT:
                continue  # the relation ended in WeCom; its callback will follow
            if exc.errcode == 40068:
                tag_groups_upsert_from_wecom(tag_groups=wecom.corp_tags(), full=True)
            raise
    CustomerTag.objects.filter(pk__in=[row.pk for row in pending]).update(synced_at=timezone.now())
    return len(pending) if relations else 0


def customers_with_unsynced_tags(*, older_than_s: int = 300, limit: int = 1000) -> list[int]:
    """Customers whose tag push was lost (broker outage, dead worker): for a sweeper."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    return list(
        CustomerTag.objects.filter(
            synced_at__isnull=True,
            added_at__lte=cutoff,
            tag__wecom_id__isnull=False,
            tag__is_deleted=False,
        )
        .values_list("customer_id", flat=True)
        .distinct()[:limit]
    )


# ------------------------------------------------------------------ hooks of contacts


def channel_tags_apply(*, customer, channel, staff=None) -> int:
    """D2/D9: the channel's tags on a customer it brought in (source "channel")."""
    added = 0
    for tag in channel.tags.filter(is_deleted=False):
        _row, created = customer_tag_add(
            customer=customer, tag=tag, source=CustomerTag.Source.CHANNEL, staff=staff
        )
        added += int(created)
    return added


def customer_tag_labels(*, customer_ids: list[int]) -> dict[int, list[str]]:
    """The live tag names of each customer, in the tag library's order."""
    labels: dict[int, list[str]] = {}
    rows = (
        CustomerTag.objects.filter(customer_id__in=customer_ids, tag__is_deleted=False)
        .order_by("customer_id", "tag__group_id", "-tag__order", "tag__name")
        .values_list("customer_id", "tag__name")
    )
    for customer_id, name in rows:
        labels.setdefault(customer_id, []).append(name)
    return labels
