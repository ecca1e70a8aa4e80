"""D9: a customer's tag push whose retries ran out is not lost: the sweep sends it again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tagging.models import CustomerTag, TagGroup
from tagging.services import (
    TagDraft,
    customer_tag_add,
    customers_with_unsynced_tags,
    tag_group_push,
    tag_group_save,
)
from tagging.tasks import customer_tags_push, customer_tags_push_sweep
from tests.factories import CustomerFactory, FollowRelationFactory

pytestmark = pytest.mark.django_db


def test_a_tag_push_whose_retries_ran_out_is_sent_again_by_the_sweep(
    cast, wecom_sandbox, monkeypatch
):
    from scrm.celery import app

    # Celery's eager mode runs the task and each of its retries in-process, at once.
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    wecom_sandbox.seed_staff("lina")
    group = tag_group_save(group=TagGroup(name="兴趣"), tags=[TagDraft(name="美食")])
    tag = tag_group_push(group_id=group.pk).tags.get()
    customer = CustomerFactory(external_userid="wmRETRY01")
    wecom_sandbox.control(
        "customers",
        customers=[
            {"external_userid": "wmRETRY01", "name": "周敏", "follow": [{"userid": "lina"}]}
        ],
    )
    FollowRelationFactory(customer=customer, staff=cast.staff_a)
    customer_tag_add(customer=customer, tag=tag, source=CustomerTag.Source.MANUAL)

    wecom_sandbox.fault("externalcontact/mark_tag", errcode=-1, times=-1)  # WeCom busy
    result = customer_tags_push.apply(args=[customer.pk])
    assert result.failed()
    assert len(wecom_sandbox.calls("externalcontact/mark_tag")) > customer_tags_push.max_retries
    row = CustomerTag.objects.get(customer=customer)
    assert row.synced_at is None

    # The sweep finds the customer once the push is a few minutes old, and WeCom is back.
    CustomerTag.objects.filter(pk=row.pk).update(added_at=timezone.now() - timedelta(minutes=6))
    assert customers_with_unsynced_tags() == [customer.pk]
    wecom_sandbox.control("faults/clear")
    assert customer_tags_push_sweep() == 1
    row.refresh_from_db()
    assert row.synced_at is not None
    assert wecom_sandbox.state()["tag_marks"][-1]["add_tag"] == [tag.wecom_id]
