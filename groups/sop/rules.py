"""Task rules (D11): triggers that put tasks on managers' lists, daily and idempotently.

Ops switch rules on and attach an approved suggestion in the admin
(``TaskRule``). Each rule's tasks carry a dedupe key built from the trigger,
so running the rules twice a day creates nothing new.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from contacts.models import FollowRelation

from .calendar import SHANGHAI
from .models import ManagerTask, TaskRule
from .worklist import task_ensure


def _new_friend(rule: TaskRule, today: date) -> int:
    """Customers who added a manager in the last ``days`` days get a follow-up."""
    since = datetime.combine(today - timedelta(days=rule.days), datetime.min.time(), SHANGHAI)
    relations = FollowRelation.objects.filter(
        status=FollowRelation.Status.ACTIVE,
        added_at__gte=since,
        customer__marketing_opt_out=False,
    ).select_related("customer", "staff")
    created = 0
    for relation in relations.iterator(chunk_size=2000):
        added_day = relation.added_at.astimezone(SHANGHAI).date()
        _, new = task_ensure(
            staff=relation.staff,
            kind=ManagerTask.Kind.NEW_FRIEND,
            title=f"新好友跟进：{relation.customer.name or relation.customer.external_userid}",
            detail=f"{added_day:%m-%d} 添加",
            dedupe_key=f"new_friend:{relation.pk}",
            due_date=max(added_day, today),
            customer=relation.customer,
            suggestion=rule.suggestion,
            priority=10,
        )
        created += new
    return created


EVALUATORS = {ManagerTask.Kind.NEW_FRIEND: _new_friend}


def task_rules_run(*, today: date) -> dict[str, int]:
    """Run every active rule for ``today``; returns tasks created per kind."""
    created: dict[str, int] = {}
    for rule in TaskRule.objects.filter(is_active=True).select_related("suggestion"):
        evaluate = EVALUATORS.get(rule.kind)
        if evaluate is not None:
            created[rule.kind] = evaluate(rule, today)
    return created
