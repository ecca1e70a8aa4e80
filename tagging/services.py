"""Writes on corp tags: mirroring WeCom's tag groups/tags and customers' WeCom tags (D9)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

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
