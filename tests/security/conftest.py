"""The security suite's world: the cast, a merchant key, a bank-systems token, and rows
of another manager (陈静, another branch) that no manager of 福田 may ever read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token

from tests.factories import (
    CustomerFactory,
    CustomerGroupFactory,
    FollowRelationFactory,
    UserFactory,
)

# Strings that only manager_b's rows carry: a page or API answer that a viewer outside
# manager_b's scope receives must contain none of them.
SECRET_CUSTOMER = "机密客户甲乙丙"
SECRET_GROUP = "机密群丁戊己"
SECRET_TASK = "机密任务庚辛壬"
SECRET_USERID = "wmSECRETcustomer0001"


@dataclass
class World:
    cast: object
    customer_b: object
    group_b: object
    task_b: object
    customer_a: object
    content: object
    merchant: object
    merchant_key: object
    merchant_raw_key: str
    bank_user: object
    bank_token: str
    extra: dict = field(default_factory=dict)

    @property
    def secrets(self) -> tuple[str, ...]:
        return (SECRET_CUSTOMER, SECRET_GROUP, SECRET_TASK, SECRET_USERID)

    def scoped_rows(self) -> list:
        return [self.customer_b, self.group_b, self.task_b]


@pytest.fixture
def world(cast, approved):
    from campaigns.services.merchants import merchant_key_create
    from scrm.workspace.models import ManagerTask
    from tests.campaigns.factories import MerchantFactory

    # The branch manager has admin access: it must widen nothing (docs/architecture.md).
    cast.branch_manager.is_staff = True
    cast.branch_manager.save(update_fields=["is_staff"])

    customer_b = CustomerFactory(name=SECRET_CUSTOMER, external_userid=SECRET_USERID)
    FollowRelationFactory(customer=customer_b, staff=cast.staff_b)
    group_b = CustomerGroupFactory(name=SECRET_GROUP, owner=cast.staff_b)
    task_b = ManagerTask.objects.create(
        staff=cast.staff_b,
        kind=ManagerTask.Kind.BIRTHDAY,
        title=SECRET_TASK,
        customer=customer_b,
        due_date=dt.date.today(),
        dedupe_key="security:task_b",
    )
    customer_a = CustomerFactory(name="福田客户")
    FollowRelationFactory(customer=customer_a, staff=cast.staff_a)

    merchant = MerchantFactory()
    key, raw = merchant_key_create(actor=cast.ops_admin, merchant_id=merchant.pk, name="pos")

    bank = UserFactory(username="bank-systems")
    bank.user_permissions.add(
        *Permission.objects.filter(
            codename__in=[
                "issue_coupons",
                "report_conversions",
                "make_invite_links",
                "send_events",  # tagging.behaviour
                "make_survey_links",  # tagging.surveys
            ]
        )
    )
    token = Token.objects.create(user=bank)
    from contacts.bank_jobs import bank_import_job_submit

    job = bank_import_job_submit(
        actor=cast.ops_admin, rows=[{"customer_no": "C001", "phone": "13800138000"}]
    )
    return World(
        cast=cast,
        customer_b=customer_b,
        group_b=group_b,
        task_b=task_b,
        customer_a=customer_a,
        content=approved,
        merchant=merchant,
        merchant_key=key,
        merchant_raw_key=raw,
        bank_user=bank,
        bank_token=token.key,
        extra={"import_job": job},
    )
