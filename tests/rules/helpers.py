"""Shared setup for tag-rule tests: events recorded the way every source records them."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

from django.utils import timezone

from tagging.behaviour.models import EventBatch
from tagging.behaviour.services import EventIn, batch_process, events_record
from tagging.rules.models import TagRule
from tagging.rules.services import tag_rule_save

_ids = count(1)


def opened(customer, *, category="基金", at: datetime | None = None, title="稳健基金周报"):
    return EventIn(
        event_id=f"open-{next(_ids)}",
        customer_id=customer.pk,
        type="material_opened",
        occurred_at=at or timezone.now(),
        properties={"material": 7, "category": category, "title": title, "channel": "single"},
    )


def record(*events: EventIn, source: str = "material") -> dict[str, int]:
    return events_record(events=list(events), source=source)


def process_pending() -> int:
    """Evaluate every pending batch in this process (what the worker does)."""
    done = 0
    for batch_id in EventBatch.objects.filter(processed_at__isnull=True).values_list(
        "pk", flat=True
    ):
        done += int(batch_process(batch_id=batch_id))
    return done


def fund_rule(user, tag, **overrides) -> TagRule:
    values = {
        "name": "基金素材三次",
        "enabled": True,
        "event_type": "material_opened",
        "property_filter": {"category": "基金"},
        "min_count": 3,
        "window_days": 7,
        "tag": tag,
    }
    values.update(overrides)
    return tag_rule_save(rule=TagRule(**values), user=user)


def days_ago(n: float) -> datetime:
    return timezone.now() - timedelta(days=n)
