"""D9: a level tag reaches WeCom in the 意向 group (made there on first use), and a
level that moves takes the old level's tag off there too."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tagging.intent.services import score_add
from tagging.models import CustomerTag, TagGroup
from tests.factories import CustomerFactory, FollowRelationFactory

pytestmark = pytest.mark.django_db


def test_level_tags_are_swapped_in_wecom(
    cast, wecom_sandbox, monkeypatch, django_capture_on_commit_callbacks
):
    from scrm.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    wecom_sandbox.seed_staff("lina")
    wecom_sandbox.control(
        "customers",
        customers=[{"external_userid": "wmLVL01", "name": "钱进", "follow": [{"userid": "lina"}]}],
    )
    customer = CustomerFactory(external_userid="wmLVL01")
    FollowRelationFactory(customer=customer, staff=cast.staff_a)
    now = timezone.now()

    def add(points, key):
        with django_capture_on_commit_callbacks(execute=True):
            score_add(
                customer_id=customer.pk,
                interest="funds",
                points=points,
                at=now,
                source_key=key,
                reason={"kind": "test"},
            )

    add(12, "a")
    group = TagGroup.objects.get(name="意向")
    assert group.wecom_id, "the 意向 group was created in WeCom by the push"
    low = group.tags.get(name="基金-低意向")
    assert CustomerTag.objects.get(customer=customer).synced_at is not None
    add(60, "b")
    high = group.tags.get(name="基金-高意向")
    marks = wecom_sandbox.state()["tag_marks"]
    assert {"add": [low.wecom_id], "remove": []} in [
        {"add": m["add_tag"], "remove": m["remove_tag"]} for m in marks
    ]
    assert {"add": [], "remove": [low.wecom_id]} in [
        {"add": m["add_tag"], "remove": m["remove_tag"]} for m in marks
    ]
    assert {"add": [high.wecom_id], "remove": []} in [
        {"add": m["add_tag"], "remove": m["remove_tag"]} for m in marks
    ]
    follow = next(f for f in wecom_sandbox.state()["follows"] if f["external_userid"] == "wmLVL01")
    assert follow["tag_ids"] == [high.wecom_id]
