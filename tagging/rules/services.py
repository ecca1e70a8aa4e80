"""Writes on tag rules: saving (versioned), evaluating batches of events, back-fills
and the stale removal.

The evaluator runs inside the behaviour batch's transaction (hook ``events_recorded``)
and is set-based: one statement finds, for the whole batch, every (rule, event) whose
type and property filter match and whose customer has at least N such events in the
W days up to it (an index range per pair, ``LIMIT N``); one statement writes the
tags and their explanations (``ON CONFLICT DO NOTHING``); one applies the points
(``scores_add``, each contribution keyed ``rule:<rule>:<event>``). Re-processing a
batch therefore changes nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scrm.core.errors import DomainError
from tagging.behaviour.models import Event, EventType
from tagging.behaviour.sqlarrays import int_array, text_array
from tagging.intent.services import ScoreIn, customers_tags_push_on_commit, scores_add
from tagging.models import CustomerTag
from tagging.services import customer_tags_remove

from .models import RuleFiring, TagRule, TagRuleVersion

log = logging.getLogger(__name__)

BACKFILL_CHUNK = 2000


# ------------------------------------------------------------------------- saving


def tag_rule_validate(rule: TagRule) -> None:
    if not isinstance(rule.property_filter, dict):
        raise DomainError(
            "rule_filter_invalid", _('属性条件须为 JSON 对象，如 {"category": "基金"}')
        )
    if rule.tag_id is None and not (rule.interest_id and rule.points):
        raise DomainError("rule_no_action", _("请至少选择一个动作：打标签，或给意向类别加分"))
    if rule.points and not rule.interest_id:
        raise DomainError("rule_interest_missing", _("加分须选择意向类别"))
    if rule.tag_id is not None and rule.tag.is_deleted:
        raise DomainError("rule_tag_deleted", _("所选标签已删除"))
    if rule.stale_days is not None and rule.tag_id is None:
        raise DomainError("rule_stale_without_tag", _("过期移除只适用于打标签的规则"))
    if rule.min_count < 1 or rule.window_days < 1:
        raise DomainError("rule_window_invalid", _("次数和时间窗口至少为 1"))
    if not EventType.objects.filter(code=rule.event_type).exists():
        raise DomainError(
            "rule_event_type_unknown",
            _("未知的事件类型：%(code)s") % {"code": rule.event_type},
        )


@transaction.atomic
def tag_rule_save(*, rule: TagRule, user) -> TagRule:
    """Validate and save the rule as a new version (who, when, which fields changed).
    A rule switched on (or created enabled) starts a back-fill over history once
    committed."""
    tag_rule_validate(rule)
    before = None
    if rule.pk:
        before = TagRule.objects.select_for_update().filter(pk=rule.pk).first()
    old = before.snapshot() if before else {}
    new = rule.snapshot()
    changes = sorted(k for k in new if old.get(k) != new.get(k))
    if before is not None and not changes:
        return rule
    if before is None:
        rule.created_by = user
    rule.updated_by = user
    rule.version = (before.version if before else 0) + 1
    switched_on = rule.enabled and not (before and before.enabled)
    rule.save()
    TagRuleVersion.objects.create(
        rule=rule, number=rule.version, snapshot=new, changed_by=user, changes=changes
    )
    if switched_on:
        tag_rule_backfill_start(rule=rule)
    return rule


@transaction.atomic
def tag_rule_delete(*, rule_id: int) -> None:
    """Delete a rule with its versions and firings; the tags it put on customers stay
    (a disabled rule keeps its explanations: prefer switching it off)."""
    TagRule.objects.filter(pk=rule_id).delete()


# ---------------------------------------------------------------------- evaluation


@dataclass
class Evaluation:
    matches: int = 0
    tags_added: int = 0
    contributions: int = 0
    customers: set[int] = field(default_factory=set)


# For every event of the batch and every candidate rule it matches: the customer's
# latest N matching events in the W days up to it (itself included); a pair with N
# of them qualifies.
_MATCH = """
WITH r AS (
    SELECT rule_id, type, filter::jsonb AS filter, n, w
      FROM unnest(%s::bigint[], %s::varchar[], %s::text[], %s::int[], %s::int[])
           AS r(rule_id, type, filter, n, w)
), e AS (
    SELECT id, customer_id, type, properties, occurred_at
      FROM behaviour_event
     WHERE id = ANY(%s::bigint[]) AND customer_id IS NOT NULL AND type = ANY(%s::varchar[])
)
SELECT r.rule_id, e.id, e.customer_id, e.occurred_at, coalesce(win.ids, ARRAY[e.id])
  FROM e
  JOIN r ON r.type = e.type AND e.properties @> r.filter
  LEFT JOIN LATERAL (
    -- Rules of one event (N = 1) skip the window: the event itself is the reason.
    SELECT array_agg(x.id ORDER BY x.occurred_at DESC, x.id DESC) AS ids
      FROM (SELECT x.id, x.occurred_at
              FROM behaviour_event x
             WHERE r.n > 1
               AND x.customer_id = e.customer_id AND x.type = e.type
               AND x.occurred_at <= e.occurred_at
               AND x.occurred_at > e.occurred_at - make_interval(days => r.w)
               AND x.properties @> r.filter
             ORDER BY x.occurred_at DESC
             LIMIT r.n) x
 ) win ON true
 WHERE r.n = 1 OR cardinality(win.ids) >= r.n
"""

_FIRE = """
WITH f AS (
    SELECT * FROM unnest(%s::bigint[], %s::int[], %s::bigint[], %s::bigint[], %s::text[])
                  AS f(rule_id, version, customer_id, tag_id, event_ids)
), t AS (
    INSERT INTO tagging_customertag (customer_id, tag_id, source, added_at)
    SELECT DISTINCT customer_id, tag_id, %s, %s FROM f ORDER BY customer_id, tag_id
    ON CONFLICT (customer_id, tag_id) DO NOTHING
    RETURNING customer_id
), x AS (
    INSERT INTO tag_rules_rulefiring (rule_id, version, customer_id, tag_id, event_ids, fired_at)
    SELECT rule_id, version, customer_id, tag_id, event_ids::bigint[], %s
      FROM f ORDER BY rule_id, customer_id
    ON CONFLICT (rule_id, customer_id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM x), customer_id FROM t
"""


def rules_evaluate(
    *, event_ids: list[int], rules: list[TagRule] | None = None, now: datetime | None = None
) -> Evaluation:
    """Evaluate the enabled rules (or ``rules``) over these events; idempotent. The
    customers whose tags changed are pushed to WeCom once the caller commits."""
    result = Evaluation()
    if not event_ids:
        return result
    now = now or timezone.now()
    if rules is None:
        rules = list(TagRule.objects.filter(enabled=True).select_related("interest"))
    if not rules:
        return result
    by_id = {r.pk: r for r in rules}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _MATCH,
            [
                [r.pk for r in rules],
                [r.event_type for r in rules],
                [json.dumps(r.property_filter or {}, ensure_ascii=False) for r in rules],
                [r.min_count for r in rules],
                [r.window_days for r in rules],
                int_array(event_ids),
                sorted({r.event_type for r in rules}),
            ],
        )
        matches = cursor.fetchall()
        result.matches = len(matches)
        if not matches:
            return result
        firings: dict[tuple[int, int], tuple] = {}
        scores: list[ScoreIn] = []
        reasons: dict[int, tuple[dict, str]] = {}
        for rule_id, event_id, customer_id, occurred_at, ids in matches:
            rule = by_id[rule_id]
            fresh = rule.stale_days is None or occurred_at > now - timedelta(days=rule.stale_days)
            if rule.tag_id is not None and fresh:
                key = (rule_id, customer_id)
                # The earliest qualifying event of the batch explains the tag.
                if key not in firings or occurred_at < firings[key][0]:
                    firings[key] = (occurred_at, ids)
            if rule.interest_id and rule.points:
                reason = reasons.get(rule_id)
                if reason is None:
                    why = {"rule": rule_id, "rule_name": rule.name, "version": rule.version}
                    reason = reasons[rule_id] = (why, json.dumps(why, ensure_ascii=False))
                scores.append(
                    ScoreIn(
                        customer_id=customer_id,
                        interest_id=rule.interest_id,
                        points=rule.points,
                        at=occurred_at,
                        source_key=f"rule:{rule_id}:{event_id}",
                        reason=reason[0],
                        event_ids=tuple(ids),
                        reason_json=reason[1],
                    )
                )
        if firings:
            keys = sorted(firings)
            cursor.execute(
                _FIRE,
                [
                    int_array(k[0] for k in keys),
                    int_array(by_id[k[0]].version for k in keys),
                    int_array(k[1] for k in keys),
                    int_array(by_id[k[0]].tag_id for k in keys),
                    text_array(int_array(firings[k][1]) for k in keys),
                    CustomerTag.Source.RULE,
                    now,
                    now,
                ],
            )
            tagged = cursor.fetchall()
            result.tags_added = len(tagged)
            result.customers.update(c for _n, c in tagged)
        if scores:
            result.contributions = len(scores)
            result.customers |= scores_add(items=scores, now=now)
        customers_tags_push_on_commit(customer_ids=result.customers)
    return result


def on_events_recorded(*, event_ids: list[int], **_kwargs) -> Evaluation:
    """The ``events_recorded`` hook: evaluate the batch in its transaction."""
    return rules_evaluate(event_ids=event_ids)


# ------------------------------------------------------------------------ preview

_PREVIEW = """
SELECT count(*), count(*) FILTER (WHERE NOT tagged)
  FROM (SELECT e.customer_id,
               %s::bigint IS NOT NULL AND EXISTS (
                   SELECT 1 FROM tagging_customertag ct
                    WHERE ct.customer_id = e.customer_id AND ct.tag_id = %s) AS tagged
          FROM behaviour_event e
         WHERE e.type = %s AND e.properties @> %s::jsonb AND e.customer_id IS NOT NULL
           AND e.occurred_at > %s AND e.occurred_at <= %s
         GROUP BY e.customer_id
        HAVING count(*) >= %s) q
"""


@dataclass(frozen=True)
class Preview:
    customers: int  # would be tagged now (N events in the last W days)
    new: int  # of them, not carrying the tag yet


def tag_rule_preview(*, rule: TagRule, now: datetime | None = None) -> Preview:
    """How many customers the rule would tag now (unsaved rules too): those with at
    least N matching events in the last W days."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _PREVIEW,
            [
                rule.tag_id,
                rule.tag_id,
                rule.event_type,
                json.dumps(rule.property_filter or {}, ensure_ascii=False),
                now - timedelta(days=rule.window_days),
                now,
                rule.min_count,
            ],
        )
        total, new = cursor.fetchone()
    return Preview(customers=total, new=new if rule.tag_id else total)


# ----------------------------------------------------------------------- back-fill


def tag_rule_backfill_start(*, rule: TagRule) -> None:
    """Mark the rule for a back-fill over every event recorded so far; the chunks run
    in Celery once this commits."""
    until = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    TagRule.objects.filter(pk=rule.pk).update(
        backfill_cursor=0,
        backfill_until=until,
        backfill_done_at=None,
        backfill_moved_at=timezone.now(),
    )
    rule.backfill_cursor, rule.backfill_until, rule.backfill_done_at = 0, until, None
    from .tasks import rule_backfill

    transaction.on_commit(lambda: rule_backfill.delay(rule.pk))


@transaction.atomic
def tag_rule_backfill(*, rule_id: int) -> TagRule:
    """Ops asked for a back-fill of an enabled rule (again): from the first event."""
    rule = TagRule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None or not rule.enabled:
        raise DomainError("rule_disabled", _("只有已启用的规则可以回溯"))
    tag_rule_backfill_start(rule=rule)
    return rule


def tag_rule_backfill_step(*, rule_id: int, chunk: int = BACKFILL_CHUNK) -> bool:
    """Evaluate the rule over the next chunk of history; True while more remains.
    The cursor moves in the same transaction as the chunk's tags, so a lost worker
    redoes at most one chunk (and that changes nothing)."""
    with transaction.atomic():
        rule = (
            TagRule.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("interest")
            .filter(pk=rule_id, backfill_cursor__isnull=False, enabled=True)
            .first()
        )
        if rule is None:
            return False
        ids = list(
            Event.objects.filter(
                id__gt=rule.backfill_cursor,
                id__lte=rule.backfill_until or 0,
                type=rule.event_type,
                customer__isnull=False,
            )
            .order_by("id")
            .values_list("id", flat=True)[:chunk]
        )
        if ids:
            rules_evaluate(event_ids=ids, rules=[rule])
        if len(ids) < chunk:
            TagRule.objects.filter(pk=rule.pk).update(
                backfill_cursor=None, backfill_done_at=timezone.now()
            )
            return False
        TagRule.objects.filter(pk=rule.pk).update(
            backfill_cursor=ids[-1], backfill_moved_at=timezone.now()
        )
        return True


def backfills_pending(*, stalled_s: int = 300) -> list[int]:
    """Back-fills whose chain of tasks stopped moving (lost message, dead worker)."""
    cutoff = timezone.now() - timedelta(seconds=stalled_s)
    return list(
        TagRule.objects.filter(
            backfill_cursor__isnull=False, enabled=True, backfill_moved_at__lt=cutoff
        ).values_list("pk", flat=True)
    )


# -------------------------------------------------------------------- stale removal

_STALE = """
SELECT f.id FROM tag_rules_rulefiring f
 WHERE f.rule_id = %s AND f.id > %s
   AND NOT EXISTS (
       SELECT 1 FROM behaviour_event x
        WHERE x.customer_id = f.customer_id AND x.type = %s
          AND x.occurred_at > %s AND x.properties @> %s::jsonb)
 ORDER BY f.id
 LIMIT %s
"""


def tags_stale_remove(*, now: datetime | None = None, chunk: int = 2000) -> int:
    """Take off rule tags whose rule saw no matching event for its ``stale_days``
    (here, and in WeCom via ``customer_tags_remove``). A tag another live firing or
    another source (manual, survey …) still stands for is kept. Returns the number of
    firings ended."""
    now = now or timezone.now()
    ended = 0
    for rule in TagRule.objects.filter(enabled=True, stale_days__isnull=False, tag__isnull=False):
        after = 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    _STALE,
                    [
                        rule.pk,
                        after,
                        rule.event_type,
                        now - timedelta(days=rule.stale_days),
                        json.dumps(rule.property_filter or {}, ensure_ascii=False),
                        chunk,
                    ],
                )
                ids = [row[0] for row in cursor.fetchall()]
                if not ids:
                    break
                after = ids[-1]
                stale = list(RuleFiring.objects.filter(pk__in=ids))
                RuleFiring.objects.filter(pk__in=ids).delete()
                customers = [f.customer_id for f in stale]
                still = set(
                    RuleFiring.objects.filter(
                        customer_id__in=customers, tag_id=rule.tag_id
                    ).values_list("customer_id", flat=True)
                )
                rows = CustomerTag.objects.filter(
                    customer_id__in=[c for c in customers if c not in still],
                    tag_id=rule.tag_id,
                    source=CustomerTag.Source.RULE,
                ).select_related("tag")
                customer_tags_remove(rows=rows)
                ended += len(ids)
            if len(ids) < chunk:
                break
    return ended
