"""A relation the reconcile ends has the effects of a ``del_external_contact`` callback.

Two customers, each with one follow relation to 李娜, in WeCom and here; both
are in a group and have a "new friend" task. 李娜 deletes both in WeCom: one
deletion reaches us as the callback, the other only through ``wecom_sync``.
The customers must end up alike: lost, the relation removed by staff with its
end time, the same timeline entry, tasks and group membership untouched.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from contacts.models import Customer, FollowRelation, TimelineEntry
from contacts.services import new_friend_task_ensure
from groups.models import GroupMember
from scrm.wecom.models import ReconcileHold
from scrm.workspace.models import ManagerTask
from tests.wecom.events import deliver

pytestmark = pytest.mark.django_db


def run_sync() -> dict:
    out = StringIO()
    call_command("wecom_sync", "--json", stdout=out)
    return json.loads(out.getvalue())


def effects(external_userid: str) -> dict:
    """What ending the relation did to the customer, in comparable form."""
    customer = Customer.objects.get(external_userid=external_userid)
    relation = FollowRelation.objects.get(customer=customer)
    entries = [
        {
            "kind": e.kind,
            "summary": e.summary,
            "staff": e.staff.userid if e.staff else None,
            "at_is_the_end_time": e.at == relation.removed_at,
            "source": e.data.get("source"),
        }
        for e in TimelineEntry.objects.filter(customer=customer).exclude(kind="customer_added")
    ]
    return {
        "customer_status": customer.status,
        "relation_status": relation.status,
        "ended": relation.removed_at is not None,
        "timeline": entries,
        "tasks": sorted(
            ManagerTask.objects.filter(customer=customer).values_list("kind", "status")
        ),
        "groups": sorted(
            GroupMember.objects.filter(customer=customer).values_list(
                "group__name", "group__status", "is_active"
            )
        ),
    }


def test_a_relation_ended_by_the_reconcile_marks_the_customer_lost_as_the_callback_does(
    wecom_sandbox, cast
):
    wecom_sandbox.seed_staff("lina")
    by_callback, by_reconcile = wecom_sandbox.control(
        "customers",
        customers=[
            {"name": "回调客户", "follow": [{"userid": "lina"}]},
            {"name": "对账客户", "follow": [{"userid": "lina"}]},
        ],
    )["external_userids"]
    wecom_sandbox.control(
        "group_create",
        owner="lina",
        name="理财群",
        members=[by_callback, by_reconcile],
        callback=False,
    )
    first = run_sync()
    assert first["follows_created"] == 2 and first["group_members_added"] == 3  # with 李娜
    for relation in FollowRelation.objects.all():
        new_friend_task_ensure(relation=relation)
    before = {ext: effects(ext) for ext in (by_callback, by_reconcile)}
    assert before[by_callback] == before[by_reconcile]
    assert before[by_callback]["customer_status"] == Customer.Status.ACTIVE

    # 李娜 deletes both in WeCom; only the first deletion reaches us as a callback.
    wecom_sandbox.control("staff_deletes_customer", userid="lina", external_userid=by_callback)
    event = deliver(
        {
            "Event": "change_external_contact",
            "ChangeType": "del_external_contact",
            "UserID": "lina",
            "ExternalUserID": by_callback,
        }
    )
    assert event.status == "done"
    wecom_sandbox.control("staff_deletes_customer", userid="lina", external_userid=by_reconcile)
    assert run_sync() == {"follows_ended": 1}
    assert not ReconcileHold.objects.exists()

    via_callback, via_reconcile = effects(by_callback), effects(by_reconcile)
    assert via_reconcile == via_callback
    assert via_callback == {
        **before[by_callback],
        "customer_status": Customer.Status.LOST,
        "relation_status": FollowRelation.Status.REMOVED_BY_STAFF,
        "ended": True,
        "timeline": [
            {
                "kind": "removed_by_staff",
                "summary": "员工删除了客户",
                "staff": "lina",
                "at_is_the_end_time": True,
                "source": "",
            }
        ],
    }
    # WeCom's callback for the second deletion arrives late, after the reconcile ended the
    # relation: it changes nothing and writes no second entry.
    late = deliver(
        {
            "Event": "change_external_contact",
            "ChangeType": "del_external_contact",
            "UserID": "lina",
            "ExternalUserID": by_reconcile,
        }
    )
    assert late.status == "done"
    assert effects(by_reconcile) == via_reconcile

    # Nothing changed since: the next run ends nothing and writes no second entry.
    assert run_sync() == {}
    assert TimelineEntry.objects.filter(kind="removed_by_staff").count() == 2
