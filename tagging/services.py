"""Writes on corp tags, both ways with WeCom (D9).

From WeCom: tag groups/tags (sync and ``change_external_tag``) and customers'
WeCom tags. To WeCom: ops' edits in the admin, and customers' tags via
``mark_tag`` from Celery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import CharField, F, Value
from django.db.models.functions import Cast, Concat, Substr
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
# managers see the same tags in their client (D9). The admin validates and saves
# through ``tag_group_save``; once that has committed, ``tag_group_push`` brings
# WeCom in line: it reads what to send in a short transaction, calls WeCom with no
# transaction open, and records WeCom's ids in a second short one. A group edited
# while the call was under way is pushed again with the newest names, so a slow,
# stale call neither overwrites the edit here nor leaves WeCom with the old names.

PUSH_ROUNDS = 3
TAG_GONE = 40068  # WeCom: invalid tag id (already deleted there)


def _wecom_failed(exc: Exception, *, what: str) -> DomainError:
    from scrm.wecom.errors import WeComError

    if isinstance(exc, WeComError):
        return DomainError(
            "wecom_tag_failed",
            _("%(what)s未能同步到企业微信（错误码 %(code)s）：%(msg)s")
            % {"what": what, "code": exc.errcode, "msg": exc.errmsg[:80]},
        )
    return DomainError("wecom_tag_failed", str(exc))


@dataclass(frozen=True)
class TagDraft:
    """One tag of a group as ops left it in the form: new (no ``tag_id``), changed,
    or to be deleted."""

    name: str
    order: int = 0
    tag_id: int | None = None
    delete: bool = False


def _tags_after(group: TagGroup, drafts: list[TagDraft]) -> list[TagDraft]:
    """The group's live tags once the drafts are applied (existing tags not in the
    drafts stay as they are)."""
    by_id = {d.tag_id: d for d in drafts if d.tag_id is not None}
    kept: list[TagDraft] = []
    if group.pk is not None:
        for tag in group.tags.filter(is_deleted=False).order_by("pk"):
            if tag.pk not in by_id:
                kept.append(TagDraft(name=tag.name, order=tag.order, tag_id=tag.pk))
    return kept + [d for d in drafts if not d.delete]


def tag_group_validate(*, group: TagGroup, tags: list[TagDraft]) -> None:
    """Check a group and its tags before anything is saved.

    Raises ``DomainError``; ``data["tag_index"]`` (the position in ``tags``) says
    which tag the message is about, when it is about one.
    """
    if group.is_deleted:
        raise DomainError("tag_group_deleted", _("标签组已删除"))
    seen: set[str] = set()
    for index, draft in enumerate(tags):
        if draft.delete:
            continue
        name = draft.name.strip()
        if not name or len(name) > 30:
            raise DomainError(
                "tag_name_invalid",
                _("标签名称不能为空，且不超过 30 个字"),
                data={"tag_index": index},
            )
        if name in seen:
            raise DomainError(
                "tag_name_duplicate",
                _("同一标签组内标签名称不能重复：%(name)s") % {"name": name},
                data={"tag_index": index},
            )
        seen.add(name)
    after = _tags_after(group, tags)
    if len({t.name.strip() for t in after}) < len(after):
        raise DomainError("tag_name_duplicate", _("同一标签组内标签名称不能重复"))
    if not after:
        raise DomainError(
            "tag_group_empty",
            _("企业微信不允许空标签组：请至少保留一个标签（删除整个标签组请使用“删除”）"),
        )


@transaction.atomic
def tag_group_save(*, group: TagGroup, tags: list[TagDraft]) -> TagGroup:
    """Validate, then save a group and its tags here; tags to delete are marked deleted.

    What changed loses its ``synced_at`` until WeCom has it. WeCom hears of it from
    ``tag_group_push``, to be called once this has committed (a tag deleted here is
    deleted there by that push).
    """
    tag_group_validate(group=group, tags=tags)
    before = TagGroup.objects.filter(pk=group.pk).values_list("name", "order").first()
    if before != (group.name, group.order):
        group.synced_at = None
    group.save()
    for draft in tags:
        values = {"name": draft.name.strip(), "order": draft.order}
        if draft.tag_id is None:
            # A deleted tag of the same name gives it up (names are unique in a group).
            Tag.objects.filter(group=group, name=values["name"], is_deleted=True).update(
                name=Concat(Substr(F("name"), 1, 20), Value("~"), Cast(F("pk"), CharField()))
            )
            Tag.objects.create(group=group, **values)
        elif draft.delete:
            Tag.objects.filter(pk=draft.tag_id, group=group).update(is_deleted=True)
        else:
            Tag.objects.filter(pk=draft.tag_id, group=group).exclude(**values).update(
                **values, synced_at=None
            )
    return group


@dataclass(frozen=True)
class _TagWish:
    """A tag group as it should be in WeCom, read in the claim transaction."""

    group_id: int
    wecom_id: str | None
    name: str
    order: int
    live: tuple[tuple[int, str | None, str, int], ...]  # (pk, wecom_id, name, order)
    deleted: tuple[str, ...]  # WeCom ids of tags deleted here

    def same_content(self, other: _TagWish) -> bool:
        def names(wish: _TagWish) -> tuple:
            return tuple((pk, name, order) for pk, _id, name, order in wish.live)

        return (self.name, self.order, names(self), set(self.deleted)) == (
            other.name,
            other.order,
            names(other),
            set(other.deleted),
        )


@dataclass
class _TagOutcome:
    group_wecom_id: str | None
    created: dict[int, str] = field(default_factory=dict)  # tag pk -> WeCom id
    error: Exception | None = None


def _tag_wish(group: TagGroup) -> _TagWish:
    tags = list(group.tags.order_by("pk"))
    return _TagWish(
        group_id=group.pk,
        wecom_id=group.wecom_id,
        name=group.name,
        order=group.order,
        live=tuple((t.pk, t.wecom_id, t.name, t.order) for t in tags if not t.is_deleted),
        deleted=tuple(t.wecom_id for t in tags if t.is_deleted and t.wecom_id),
    )


def _tag_push_claim(group_id: int) -> _TagWish:
    with transaction.atomic():
        group = TagGroup.objects.select_for_update().get(pk=group_id)
        if group.is_deleted:
            raise DomainError("tag_group_deleted", _("标签组已删除"))
        wish = _tag_wish(group)
    for _pk, _id, name, _order in wish.live:
        if not name.strip() or len(name) > 30:
            raise DomainError("tag_name_invalid", _("标签名称不能为空，且不超过 30 个字"))
    if not wish.wecom_id and not wish.live:
        raise DomainError("tag_group_empty", _("企业微信不允许空标签组：请至少添加一个标签"))
    return wish


def _tag_push_call(wish: _TagWish) -> _TagOutcome:
    """Bring WeCom's group in line with the wish. Runs outside any transaction."""
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WeComError

    outcome = _TagOutcome(group_wecom_id=wish.wecom_id)
    new = [(pk, name, order) for pk, wecom_id, name, order in wish.live if not wecom_id]

    def keep_ids(result: dict, tags: list[tuple[int, str, int]]) -> None:
        by_name = {str(t["name"]): str(t["id"]) for t in result.get("tag") or []}
        outcome.created.update({pk: by_name[name] for pk, name, _o in tags if name in by_name})

    try:
        if not wish.wecom_id:
            result = wecom.corp_tag_add(
                group_name=wish.name,
                order=wish.order,
                tags=[{"name": name, "order": order} for _pk, name, order in new],
            )
            outcome.group_wecom_id = str(result["group_id"])
            keep_ids(result, new)
            return outcome
        current = {g["group_id"]: g for g in wecom.corp_tags(group_ids=[wish.wecom_id])}
        remote = current.get(wish.wecom_id)
        if remote is None:
            raise DomainError("tag_group_gone", _("该标签组已在企业微信中删除，请先同步标签"))
        if remote.get("group_name") != wish.name or int(remote.get("order") or 0) != wish.order:
            wecom.corp_tag_edit(wish.wecom_id, name=wish.name, order=wish.order)
        # New tags first: a group whose last tag goes is deleted by WeCom.
        if new:
            result = wecom.corp_tag_add(
                group_id=wish.wecom_id,
                tags=[{"name": name, "order": order} for _pk, name, order in new],
            )
            keep_ids(result, new)
        remote_tags = {str(t["id"]): t for t in remote.get("tag") or []}
        for _pk, wecom_id, name, order in wish.live:
            r = remote_tags.get(wecom_id or "")
            if r is not None and (r.get("name") != name or int(r.get("order") or 0) != order):
                wecom.corp_tag_edit(wecom_id, name=name, order=order)
        gone = sorted(set(wish.deleted) & set(remote_tags))
        if gone:
            try:
                wecom.corp_tag_delete(tag_ids=gone)
            except WeComError as exc:
                if exc.errcode != TAG_GONE:
                    raise
    except WeComError as exc:
        outcome.error = exc
    return outcome


def _tag_push_record(wish: _TagWish, outcome: _TagOutcome) -> tuple[TagGroup, bool]:
    """Keep WeCom's ids (facts, whatever changed meanwhile) and stamp what WeCom now has;
    returns the group and whether nothing was edited during the call."""
    now = timezone.now()
    with transaction.atomic():
        group = TagGroup.objects.select_for_update().get(pk=wish.group_id)
        if outcome.group_wecom_id and not group.wecom_id:
            group.wecom_id = outcome.group_wecom_id
            TagGroup.objects.filter(pk=group.pk).update(wecom_id=group.wecom_id)
        for pk, wecom_id in outcome.created.items():
            Tag.objects.filter(pk=pk, wecom_id__isnull=True).update(wecom_id=wecom_id)
        if outcome.error is not None:
            return group, False
        # Stamped only when unchanged since the claim: an edit made meanwhile waits.
        sent = {pk: (name, order) for pk, _id, name, order in wish.live}
        for tag in group.tags.filter(pk__in=list(sent), is_deleted=False):
            if (tag.name, tag.order) == sent[tag.pk]:
                Tag.objects.filter(pk=tag.pk).update(synced_at=now)
        if (group.name, group.order, group.is_deleted) == (wish.name, wish.order, False):
            group.synced_at = now
            TagGroup.objects.filter(pk=group.pk).update(synced_at=now)
        return group, _tag_wish(group).same_content(wish)


def tag_group_push(*, group_id: int) -> TagGroup:
    """Create or update a local tag group and its tags in WeCom, keep WeCom's ids, and
    delete there the tags deleted here.

    A group with no live tags cannot exist in WeCom (no empty groups): it waits
    locally until it has one. Raises ``DomainError`` when WeCom refuses; the ids of
    whatever WeCom did create are kept, so pushing again retries the rest. No
    transaction is open while WeCom is called: call this after the caller's
    transaction committed.
    """
    for _round in range(PUSH_ROUNDS):
        wish = _tag_push_claim(group_id)
        outcome = _tag_push_call(wish)
        group, settled = _tag_push_record(wish, outcome)
        if outcome.error is not None:
            what = _("标签组「%(name)s」") % {"name": wish.name}
            raise _wecom_failed(outcome.error, what=what) from outcome.error
        if settled:
            return group
    raise DomainError(
        "tag_group_busy", _("标签组正在被同时修改，未能同步到企业微信，请稍后再保存一次")
    )


def tag_group_delete(*, group_id: int) -> TagGroup:
    """Delete a group (and its tags) in WeCom; both stay here marked deleted."""
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WeComError

    group = TagGroup.objects.get(pk=group_id)
    if group.wecom_id:
        try:
            wecom.corp_tag_delete(group_ids=[group.wecom_id])
        except WeComError as exc:
            if exc.errcode != TAG_GONE:
                what = _("标签组「%(name)s」") % {"name": group.name}
                raise _wecom_failed(exc, what=what) from exc
    with transaction.atomic():
        group = TagGroup.objects.select_for_update().get(pk=group_id)
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
