"""D9 end to end: events recorded, evaluated by a real Celery worker, the rule's tag
marked on the customer in the WeCom sandbox (mark_tag), its explanation on the page."""

from __future__ import annotations

import time

import pytest

from tagging.behaviour.models import EventBatch
from tagging.models import CustomerTag, Tag, TagGroup
from tests.factories import CustomerFactory, FollowRelationFactory

from .helpers import days_ago, fund_rule, opened, record


def _wait(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _batches_done() -> bool:
    return not EventBatch.objects.filter(processed_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_the_third_fund_open_tags_in_the_worker_and_reaches_wecom(
    cast, wecom_sandbox, celery_worker_process
):
    wecom_sandbox.seed_staff("lina")
    wecom_sandbox.control(
        "customers",
        customers=[{"external_userid": "wmRULE01", "name": "赵磊", "follow": [{"userid": "lina"}]}],
    )
    customer = CustomerFactory(external_userid="wmRULE01", name="赵磊")
    FollowRelationFactory(customer=customer, staff=cast.staff_a)
    # A tag made here only: the push creates its group in WeCom first.
    tag = Tag.objects.create(group=TagGroup.objects.create(name="理财兴趣"), name="基金-高意向")
    fund_rule(cast.ops, tag)

    record(opened(customer, at=days_ago(3)))
    record(opened(customer, at=days_ago(2)))
    assert _wait(_batches_done)
    assert not CustomerTag.objects.filter(customer=customer).exists()
    assert wecom_sandbox.calls("externalcontact/mark_tag") == []

    record(opened(customer, at=days_ago(1)))
    assert _wait(_batches_done)
    assert _wait(
        lambda: CustomerTag.objects.filter(customer=customer, synced_at__isnull=False).exists()
    )
    tag.refresh_from_db()
    assert tag.wecom_id
    marks = wecom_sandbox.state()["tag_marks"]
    assert marks == [
        {
            "userid": "lina",
            "external_userid": "wmRULE01",
            "add_tag": [tag.wecom_id],
            "remove_tag": [],
        }
    ]
