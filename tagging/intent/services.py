"""Writes on intent scores (D9): contributions applied once, decayed scores, levels.

``scores_add`` applies a whole batch of contributions in two statements: one that
inserts the contributions not applied before and folds them into their scores (each
decayed to the score's time first, so an out-of-order event counts for what it is
worth now), and one that records the levels that moved. A level that moved changes
the customer's level tag in the 意向 group (pushed to WeCom by a task after commit),
and reaching 高意向 puts a follow-up task on the customer's manager's list (D11).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import FollowRelation
from scrm.core.errors import DomainError
from scrm.core.workdays import SHANGHAI
from tagging.behaviour.sqlarrays import float_array, int_array, text_array
from tagging.models import CustomerTag, Tag, TagGroup
from tagging.services import customer_tags_push

from .models import LEVEL_GROUP, Interest, Level, Score

log = logging.getLogger(__name__)

# 0.5 ** x for a number of half-lives x, kept within float range (PostgreSQL raises on
# underflow): beyond 1000 half-lives a score is nothing anyway.
_HALF = "power(0.5::float8, least(greatest({x}, -1000.0), 1000.0))"


def _half_lives(later: str, earlier: str, half_life: str) -> str:
    return _HALF.format(x=f"extract(epoch from ({later}) - ({earlier})) / (86400.0 * {half_life})")


@dataclass(frozen=True)
class ScoreIn:
    customer_id: int
    interest_id: int
    points: float
    at: datetime
    source_key: str
    reason: dict = field(default_factory=dict)
    event_ids: tuple[int, ...] = ()
    # ``reason`` as JSON text when the caller has it already (a rule's reason is the
    # same for each of its contributions in a batch): not serialised once per item.
    reason_json: str | None = field(default=None, compare=False, repr=False)


_HL = "(SELECT half_life_days FROM intent_interest WHERE id = s.interest_id)"
_ADD = f"""
WITH items AS (
    SELECT DISTINCT ON (i.source_key) i.*
      FROM unnest(%s::varchar[], %s::bigint[], %s::bigint[], %s::float8[], %s::timestamptz[],
                  %s::text[], %s::text[])
           AS i(source_key, customer_id, interest_id, points, at, event_ids, reason)
     ORDER BY i.source_key
), ins AS (
    INSERT INTO intent_contribution
        (source_key, customer_id, interest_id, points, at, event_ids, reason, created_at)
    SELECT source_key, customer_id, interest_id, points, at, event_ids::bigint[],
           reason::jsonb, now()
      FROM items
    ON CONFLICT (source_key) DO NOTHING
    RETURNING customer_id, interest_id, points, at
), latest AS (
    SELECT customer_id, interest_id, max(at) AS as_of FROM ins GROUP BY 1, 2
), folded AS (
    SELECT l.customer_id, l.interest_id, l.as_of,
           sum(ins.points * {_half_lives("l.as_of", "ins.at", "it.half_life_days")}) AS points
      FROM latest l
      JOIN ins USING (customer_id, interest_id)
      JOIN intent_interest it ON it.id = l.interest_id
     GROUP BY 1, 2, 3
)
INSERT INTO intent_score AS s (customer_id, interest_id, points, as_of, level, updated_at)
SELECT customer_id, interest_id, points, as_of, '', now() FROM folded
ORDER BY customer_id, interest_id
ON CONFLICT (customer_id, interest_id) DO UPDATE SET
    points = s.points * {_half_lives("greatest(s.as_of, excluded.as_of)", "s.as_of", _HL)}
           + excluded.points
             * {_half_lives("greatest(s.as_of, excluded.as_of)", "excluded.as_of", _HL)},
    as_of = greatest(s.as_of, excluded.as_of),
    updated_at = now()
RETURNING s.id, s.customer_id, s.interest_id, s.points, s.as_of, s.level, s.level_expires_at
"""  # noqa: S608 (fixed SQL fragments only; every value is a parameter)


# ``Level.values`` builds its list anew on every access.
_LEVELS = tuple(Level.values)


def _interests() -> dict[int, Interest]:
    return {i.pk: i for i in Interest.objects.select_related("suggestion")}


def interest_by_code(code: str) -> Interest:
    interest = Interest.objects.filter(code=code).first()
    if interest is None:
        raise DomainError("interest_unknown", _("未知的意向类别：%(code)s") % {"code": code})
    return interest


def scores_add(*, items: list[ScoreIn], now: datetime | None = None) -> set[int]:
    """Apply the contributions whose ``source_key`` was not applied before, in one
    statement for the batch; then move the levels that changed. Returns the ids of
    customers whose level tags changed (to push to WeCom once committed)."""
    return _apply(items, now)[1]


def _apply(items: list[ScoreIn], now: datetime | None) -> tuple[int, set[int]]:
    if not items:
        return 0, set()
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _ADD,
            [
                text_array(i.source_key for i in items),
                int_array(i.customer_id for i in items),
                int_array(i.interest_id for i in items),
                float_array(i.points for i in items),
                text_array(i.at.isoformat() for i in items),
                text_array("{" + ",".join(str(e) for e in i.event_ids) + "}" for i in items),
                text_array(
                    i.reason_json or json.dumps(i.reason, ensure_ascii=False, default=str)
                    for i in items
                ),
            ],
        )
        rows = cursor.fetchall()
        if not rows:
            return 0, set()
        return len(rows), _levels_record(rows, now)


def score_add(
    *,
    customer_id: int,
    interest: str,
    points: float,
    at: datetime,
    source_key: str,
    reason: dict,
) -> bool:
    """Add ``points`` to the customer's score for ``interest`` (its code) as of ``at``,
    once per ``source_key``; False when that key was applied before. A level that
    moved is pushed to WeCom after commit."""
    target = interest_by_code(interest)
    with transaction.atomic():
        applied, changed = _apply(
            [
                ScoreIn(
                    customer_id=customer_id,
                    interest_id=target.pk,
                    points=points,
                    at=at,
                    source_key=source_key,
                    reason=reason,
                    event_ids=tuple(reason.get("event_ids") or ()),
                )
            ],
            None,
        )
        customers_tags_push_on_commit(customer_ids=changed)
    return bool(applied)


# ----------------------------------------------------------------------- interests


def interest_validate(*, half_life_days, high, medium, low, suggestion=None) -> None:
    if not half_life_days or half_life_days <= 0:
        raise DomainError("interest_half_life", _("半衰期须大于 0 天"))
    if not (high > medium > low > 0):
        raise DomainError("interest_thresholds", _("阈值须满足：高意向 > 中意向 > 低意向 > 0"))
    if suggestion is not None and suggestion.status != "approved":
        raise DomainError("interest_suggestion", _("建议内容须为已通过审核的内容"))


@transaction.atomic
def interest_save(*, interest: Interest) -> Interest:
    """Save an interest's settings. Levels follow the new thresholds and half-life the
    next time each score moves or its level falls due; a changed half-life moves
    every due date, so they are all due now and the level job recomputes them."""
    interest_validate(
        half_life_days=interest.half_life_days,
        high=interest.high_threshold,
        medium=interest.medium_threshold,
        low=interest.low_threshold,
        suggestion=interest.suggestion,
    )
    before = Interest.objects.filter(pk=interest.pk).first() if interest.pk else None
    interest.save()
    if before is not None and (
        before.half_life_days,
        before.high_threshold,
        before.medium_threshold,
        before.low_threshold,
    ) != (
        interest.half_life_days,
        interest.high_threshold,
        interest.medium_threshold,
        interest.low_threshold,
    ):
        Score.objects.filter(interest=interest).update(level_expires_at=timezone.now())
    return interest


# ------------------------------------------------------------------------- levels


def _expiry(interest: Interest, level: str, points: float, as_of: datetime) -> datetime | None:
    threshold = interest.threshold_of(level)
    if not threshold or points <= 0:
        return None
    days = interest.half_life_days * math.log2(points / threshold)
    return as_of + timedelta(days=min(max(days, 0.0), 36500.0))


_LEVELS_UPDATE = """
UPDATE intent_score AS s SET level = u.level, level_expires_at = u.expires_at
  FROM unnest(%s::bigint[], %s::varchar[], %s::timestamptz[]) AS u(id, level, expires_at)
 WHERE s.id = u.id
"""


def _levels_record(rows, now: datetime, *, force: bool = False) -> set[int]:
    """Each score's level at ``now`` and when decay will end it; level tags and
    high-intent tasks for the levels that moved."""
    interests = _interests()
    ids, levels, expiries = [], [], []
    moved: list[tuple[int, Interest, str, str]] = []
    for score_id, customer_id, interest_id, points, as_of, old_level, old_expiry in rows:
        interest = interests[interest_id]
        value = points * 0.5 ** (
            max(min((now - as_of).total_seconds() / 86400.0 / interest.half_life_days, 1000), -1000)
        )
        level = interest.level_of(value)
        expiry = _expiry(interest, level, points, as_of)
        # A stored expiry earlier than the true one is safe (the job recomputes a row
        # that is due and finds it is not): rows whose level stands and whose expiry
        # only moved later are not written again.
        unchanged = not force and level == old_level
        if unchanged and (
            (expiry is None and old_expiry is None)
            or (expiry is not None and old_expiry is not None and old_expiry <= expiry)
        ):
            continue
        ids.append(score_id)
        levels.append(level)
        expiries.append(expiry)
        if level != old_level:
            moved.append((customer_id, interest, old_level, level))
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(
                _LEVELS_UPDATE,
                [
                    int_array(ids),
                    text_array(levels),
                    text_array(None if e is None else e.isoformat() for e in expiries),
                ],
            )
    if moved:
        _level_tags_apply(moved, now)
    return {customer_id for customer_id, *_ in moved}


def level_tags(interests: list[Interest]) -> dict[tuple[int, str], Tag]:
    """The 意向 group's level tags of these interests, made when missing (WeCom gets
    them from the push, which creates the group there first)."""
    group = TagGroup.objects.filter(name=LEVEL_GROUP, is_deleted=False).first()
    if group is None:
        group, _created = TagGroup.objects.get_or_create(name=LEVEL_GROUP)
    found = {t.name: t for t in Tag.objects.filter(group=group)}
    out: dict[tuple[int, str], Tag] = {}
    for interest in interests:
        for level in _LEVELS:
            name = interest.level_tag_name(level)
            tag = found.get(name)
            if tag is None:
                tag, _created = Tag.objects.get_or_create(group=group, name=name)
            elif tag.is_deleted:
                Tag.objects.filter(pk=tag.pk).update(
                    is_deleted=False, wecom_id=None, synced_at=None
                )
                tag.is_deleted = False
            out[(interest.pk, level)] = tag
    return out


_TAG_INSERT = """
INSERT INTO tagging_customertag (customer_id, tag_id, source, added_at)
SELECT c, t, %s, %s FROM unnest(%s::bigint[], %s::bigint[]) AS u(c, t)
ON CONFLICT (customer_id, tag_id) DO NOTHING
"""


_LEVEL_SWAP = """
WITH u AS (
    SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS u(customer_id, keep, drop)
), gone AS (
    DELETE FROM tagging_customertag ct
     USING u
     WHERE ct.customer_id = u.customer_id AND ct.tag_id = ANY(u.drop::bigint[])
           AND ct.tag_id IS DISTINCT FROM u.keep
    RETURNING ct.customer_id, ct.tag_id
), added AS (
    INSERT INTO tagging_customertag (customer_id, tag_id, source, added_at)
    SELECT customer_id, keep, %s, %s FROM u WHERE keep IS NOT NULL
     ORDER BY customer_id, keep
    ON CONFLICT (customer_id, tag_id) DO NOTHING
    RETURNING customer_id
)
SELECT g.customer_id, t.wecom_id FROM gone g JOIN tagging_tag t ON t.id = g.tag_id
 WHERE t.wecom_id IS NOT NULL
"""


def _level_tags_apply(moved: list[tuple[int, Interest, str, str]], now: datetime) -> None:
    """One level tag per interest: the new one on, the interest's others off (in one
    statement for the batch). WeCom hears of both from the batch push after commit."""
    tags = level_tags(list({i.pk: i for _c, i, _o, _n in moved}.values()))
    customers, keep, drop = [], [], []
    for customer_id, interest, _old, new in moved:
        customers.append(customer_id)
        keep.append(tags[(interest.pk, new)].pk if new else None)
        drop.append(
            "{" + ",".join(str(tags[(interest.pk, lv)].pk) for lv in _LEVELS if lv != new) + "}"
        )
    with connection.cursor() as cursor:
        cursor.execute(
            _LEVEL_SWAP,
            [
                int_array(customers),
                int_array(keep),
                text_array(drop),
                CustomerTag.Source.RULE,
                now,
            ],
        )
        removed: dict[int, list[str]] = {}
        for customer_id, wecom_id in cursor.fetchall():
            removed.setdefault(customer_id, []).append(wecom_id)
    if removed:
        customers_tags_push_on_commit(customer_ids=[], removals=removed)
    highs = [(c, i) for c, i, old, new in moved if new == Level.HIGH and old != Level.HIGH]
    if highs:
        _high_intent_tasks(highs, now)


def _high_intent_tasks(highs: list[tuple[int, Interest]], now: datetime) -> int:
    """D11: a follow-up task for each customer's most recent manager, with the
    interest's suggested content; one per customer, interest and day."""
    from scrm.workspace.models import ManagerTask
    from scrm.workspace.services import task_ensure

    customer_ids = [c for c, _i in highs]
    relations = {
        r.customer_id: r
        for r in FollowRelation.objects.filter(
            customer_id__in=customer_ids,
            status=FollowRelation.Status.ACTIVE,
            customer__marketing_opt_out=False,
        )
        .select_related("customer", "staff")
        .order_by("customer_id", "-added_at")
        .distinct("customer_id")
    }
    today = now.astimezone(SHANGHAI).date()
    created = 0
    for customer_id, interest in highs:
        relation = relations.get(customer_id)
        if relation is None:
            continue
        customer = relation.customer
        _task, new = task_ensure(
            staff=relation.staff,
            kind=ManagerTask.Kind.HIGH_INTENT,
            title=f"高意向跟进：{customer.name or customer.external_userid}·{interest.name}",
            detail=f"{interest.name}意向达到高意向，建议推送相关内容",
            dedupe_key=f"high_intent:{customer_id}:{interest.pk}:{today:%Y%m%d}",
            due_date=today,
            customer=customer,
            suggestion=interest.suggestion,
            priority=20,
        )
        created += int(new)
    return created


def levels_expire(*, now: datetime | None = None, limit: int = 5000) -> int:
    """Scores whose level decay has ended (``level_expires_at`` passed): their new level,
    tag and expiry. Reads only the due rows. Returns how many were handled."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            Score.objects.select_for_update(skip_locked=True)
            .filter(level_expires_at__lte=now)
            .order_by("level_expires_at")
            .values_list("id", "customer_id", "interest_id", "points", "as_of", "level")[:limit]
        )
        if not rows:
            return 0
        # Due rows are written whatever they become.
        changed = _levels_record([(*row, None) for row in rows], now, force=True)
        customers_tags_push_on_commit(customer_ids=changed)
    return len(rows)


# ------------------------------------------------------------------------- to WeCom


PUSH_CHUNK = 1000


def customers_tags_push_on_commit(*, customer_ids, removals: dict | None = None) -> None:
    """Once committed, push these customers' new tags (and ``removals``: {customer id:
    [WeCom tag ids taken off]}) to WeCom, one task per chunk."""
    ids = sorted(set(customer_ids))
    removals = {int(k): v for k, v in (removals or {}).items()}
    if not ids and not removals:
        return
    from .tasks import customers_tags_push as task

    def send():
        for start in range(0, max(len(ids), 1), PUSH_CHUNK):
            chunk = ids[start : start + PUSH_CHUNK]
            gone = removals if start == 0 else {}
            try:
                task.delay(chunk, {str(k): v for k, v in gone.items()})
            except Exception:  # broker down: the tag core's sweep sends the adds later
                log.warning("tag push of %s customers not queued; the sweep will", len(chunk))

    transaction.on_commit(send)


def _any_customer(model, customer_ids) -> RawSQL:
    """``customer_id = ANY(<one array literal>)``: a push names up to a thousand
    customers, which ``customer_id__in`` would send as as many parameters."""
    return RawSQL(  # noqa: S611 (the table name from the model; the ids one parameter)
        f'"{model._meta.db_table}"."customer_id" = ANY(%s::bigint[])',
        [int_array(sorted(customer_ids))],
        output_field=BooleanField(),
    )


def customers_tags_push(*, customer_ids: list[int], removals: dict | None = None) -> dict[str, int]:
    """Send these customers' unsynced tags to WeCom (``mark_tag`` per relation, under
    the adapter's corp-wide rate limit), and take off there the level tags replaced
    here (``removals``: {customer id: [WeCom tag ids]}). Tag groups WeCom does not know
    yet (the 意向 group's new level tags) are created there first. A customer WeCom
    refuses keeps ``synced_at`` empty for the sweep; retryable errors are raised after
    the others went, so the task retries (pushed customers then have nothing pending)."""
    from scrm.wecom.errors import WeComRetryableError
    from tagging.services import customer_tags_remove_push, tag_group_push

    pending = list(
        CustomerTag.objects.filter(
            _any_customer(CustomerTag, customer_ids), synced_at__isnull=True, tag__is_deleted=False
        ).values_list("pk", "customer_id", "tag__group_id", "tag__wecom_id")
    )
    for group_id in sorted({g for _pk, _c, g, wecom_id in pending if not wecom_id}):
        try:
            tag_group_push(group_id=group_id)
        except DomainError as exc:
            log.warning("tag group %s not pushed: %s", group_id, exc)
    pushed = failed = 0
    retry: Exception | None = None
    for customer_id, wecom_ids in sorted((removals or {}).items()):
        try:
            customer_tags_remove_push(customer_id=int(customer_id), wecom_tag_ids=wecom_ids)
        except WeComRetryableError as exc:
            retry = exc
            failed += 1
        except Exception as exc:  # refused for good: the nightly mirror shows it here
            log.warning("tag removal of customer %s not pushed: %s", customer_id, exc)
            failed += 1
    waiting = {c for _pk, c, _g, _w in pending}
    # Customers who follow no one in WeCom have nothing to mark: stamped in one go, as
    # the per-customer push would stamp them.
    in_wecom = set(
        FollowRelation.objects.filter(
            _any_customer(FollowRelation, waiting),
            status__in=[FollowRelation.Status.ACTIVE, FollowRelation.Status.HALF],
        ).values_list("customer_id", flat=True)
    )
    # (Tags whose group push failed have no WeCom id and stay unsynced.)
    nobody = [pk for pk, c, _g, wecom_id in pending if c not in in_wecom and wecom_id]
    if nobody:
        # One array parameter rather than thousands (the ORM's ``pk__in``).
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE tagging_customertag SET synced_at = %s"
                " WHERE id = ANY(%s::bigint[]) AND synced_at IS NULL",
                [timezone.now(), int_array(nobody)],
            )
    for customer_id in sorted(in_wecom):
        try:
            pushed += customer_tags_push(customer_id=customer_id)
        except WeComRetryableError as exc:
            retry = exc
            failed += 1
        except Exception as exc:  # refused for good: stays unsynced for the sweep
            log.warning("tags of customer %s not pushed: %s", customer_id, exc)
            failed += 1
    if retry is not None:
        raise retry
    return {"pushed": pushed, "failed": failed}


def level_tags_unpushed_sweep() -> int:
    """Customers whose level tags WeCom never got an id for (the group push failed):
    the tag core's sweep only sends tags with a WeCom id, so these are sent here."""
    ids = list(
        CustomerTag.objects.filter(
            synced_at__isnull=True,
            tag__wecom_id__isnull=True,
            tag__is_deleted=False,
            tag__group__name=LEVEL_GROUP,
            added_at__lte=timezone.now() - timedelta(minutes=5),
        )
        .values_list("customer_id", flat=True)
        .distinct()[:1000]
    )
    customers_tags_push_on_commit(customer_ids=ids)
    return len(ids)
