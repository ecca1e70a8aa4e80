"""Task rules that read customers (D11): new friends, birthdays, maturing products.

Registered with the workspace (``rule_evaluator``) when the app loads; the workspace's
daily job runs the active ones.

Ops switch rules on and attach an approved suggestion in the admin
(``TaskRule``). Each rule's tasks carry a dedupe key built from the trigger,
so running the rules twice a day creates nothing new.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db.models import Q

from scrm.core.workdays import SHANGHAI
from scrm.workspace.models import ManagerTask, TaskRule
from scrm.workspace.registry import rule_evaluator
from scrm.workspace.services import task_ensure

from .models import FollowRelation


@rule_evaluator(TaskRule.Kind.NEW_FRIEND)
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


def _bank_customers(condition: Q):
    """Active follow relations of verified, reachable customers whose bank record matches."""
    return (
        FollowRelation.objects.filter(
            condition,
            status=FollowRelation.Status.ACTIVE,
            customer__bank_record__isnull=False,
            customer__marketing_opt_out=False,
        )
        .select_related("customer__bank_record", "staff")
        .order_by("customer_id", "-added_at")
        .distinct("customer_id")  # one task per customer: their most recent manager
    )


@rule_evaluator(TaskRule.Kind.BIRTHDAY)
def _birthday(rule: TaskRule, today: date) -> int:
    """Customers whose birthday is ``days`` days away (0: today) get a greeting task."""
    day = today + timedelta(days=rule.days)
    relations = _bank_customers(
        Q(customer__bank_record__birthday__month=day.month)
        & Q(customer__bank_record__birthday__day=day.day)
    )
    created = 0
    for relation in relations.iterator(chunk_size=2000):
        customer = relation.customer
        _, new = task_ensure(
            staff=relation.staff,
            kind=ManagerTask.Kind.BIRTHDAY,
            title=f"生日关怀：{customer.name or customer.external_userid}",
            detail=f"{day:%m-%d} 生日",
            dedupe_key=f"birthday:{customer.pk}:{day.year}",
            due_date=today if rule.days else day,
            customer=customer,
            suggestion=rule.suggestion,
            priority=20,
        )
        created += new
    return created


@rule_evaluator(TaskRule.Kind.MATURITY)
def _maturity(rule: TaskRule, today: date) -> int:
    """A wealth product maturing within ``days`` days: remind the manager (D11)."""
    until = today + timedelta(days=rule.days)
    relations = _bank_customers(
        Q(customer__bank_record__product_maturity__gte=today)
        & Q(customer__bank_record__product_maturity__lte=until)
    )
    created = 0
    for relation in relations.iterator(chunk_size=2000):
        customer = relation.customer
        record = customer.bank_record
        _, new = task_ensure(
            staff=relation.staff,
            kind=ManagerTask.Kind.MATURITY,
            title=f"理财到期：{customer.name or customer.external_userid}",
            detail=f"{record.product_name or '理财产品'} {record.product_maturity:%m-%d} 到期",
            dedupe_key=f"maturity:{record.pk}:{record.product_maturity:%Y%m%d}",
            due_date=today,
            customer=customer,
            suggestion=rule.suggestion,
            priority=30,
        )
        created += new
    return created
