"""Reconcile safety: WeCom answering empty lists must not end a corp's relations and groups.

A wrong secret, an app without the customer-contact permission or an outage
that answers ``[]`` looks, to a naive reconcile, like every customer leaving.
The run stops before ending anything, records why, alerts on /healthz, and
proceeds only when ops confirm.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from contacts.models import Customer, FollowRelation, Staff
from groups.models import CustomerGroup
from scrm.wecom.models import ReconcileHold
from scrm.wecom.sync import removal_too_large

pytestmark = pytest.mark.django_db

NO_FOLLOW_USERS = {"externalcontact/get_follow_user_list": {"follow_user": []}}
EMPTY = {
    "externalcontact/batch/get_by_user": {"external_contact_list": [], "next_cursor": ""},
    "externalcontact/groupchat/list": {"group_chat_list": [], "next_cursor": ""},
}


def run_sync(*args: str) -> dict:
    out, err = StringIO(), StringIO()
    call_command("wecom_sync", "--json", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue())


@pytest.fixture
def corp(wecom_sandbox):
    """60 customers of two managers and three groups, in WeCom and (after a sync) here."""
    wecom_sandbox.control(
        "staff", users=[{"userid": "lina", "name": "李娜"}, {"userid": "chenjing", "name": "陈静"}]
    )
    exts = wecom_sandbox.control(
        "customers",
        customers=[
            {"name": f"客户{i}", "follow": [{"userid": "lina" if i % 2 else "chenjing"}]}
            for i in range(60)
        ],
    )["external_userids"]
    for n, owner in enumerate(["lina", "chenjing", "lina"]):
        wecom_sandbox.control(
            "group_create",
            owner=owner,
            name=f"福利群{n}",
            members=exts[n * 5 : n * 5 + 5],
            callback=False,
        )
    first = run_sync()
    assert first["follows_created"] == 60 and first["groups_created"] == 3
    return exts


def _live() -> tuple[int, int, int]:
    return (
        FollowRelation.objects.filter(status=FollowRelation.Status.ACTIVE).count(),
        CustomerGroup.objects.filter(status=CustomerGroup.Status.NORMAL).count(),
        Staff.objects.filter(is_follow_user=True).count(),
    )


def test_the_threshold_needs_both_the_share_and_the_count(settings):
    settings.WECOM_SYNC_MAX_REMOVAL_SHARE = 0.05
    settings.WECOM_SYNC_MIN_REMOVAL_ROWS = 50
    assert not removal_too_large(remove=49, active=50)  # all of them, but few
    assert not removal_too_large(remove=50, active=1000)  # many, but 5%
    assert removal_too_large(remove=51, active=1000)
    assert removal_too_large(remove=60, active=60)


def test_wecom_answering_empty_lists_stops_the_reconcile_until_ops_confirm(
    corp, wecom_sandbox, client, cast
):
    before = _live()
    assert before[:2] == (60, 3)
    for endpoint, answer in EMPTY.items():
        wecom_sandbox.fault(endpoint, answer=answer, times=-1)

    held = run_sync()
    assert "held" in held and "60 / 60" in held["held"]
    assert _live() == before  # nothing ended
    assert not Customer.objects.filter(status=Customer.Status.LOST).exists()
    hold = ReconcileHold.objects.get(resolved_at__isnull=True)
    assert hold.counts["relations"] == {"remove": 60, "active": 60}
    assert hold.counts["groups"] == {"remove": 3, "active": 3}
    # A second nightly run in the same state records no second hold.
    run_sync()
    assert ReconcileHold.objects.filter(resolved_at__isnull=True).count() == 1

    # Ops see it: /healthz fails on the reconcile check, the admin lists the hold.
    health = client.get("/healthz?only=reconcile")
    assert health.status_code == 503 and health.json()["checks"]["reconcile"]["ok"] is False
    client.force_login(cast.ops_admin)
    page = client.get("/admin/wecom/reconcilehold/")
    assert page.status_code == 200 and "60 / 60" in page.content.decode()

    # Confirmed (WeCom really lost them): the run proceeds through the services.
    confirmed = run_sync("--confirm-mass-removal")
    assert confirmed["follows_ended"] == 60 and confirmed["groups_dismissed"] == 3
    assert _live()[:2] == (0, 0)
    assert Customer.objects.filter(status=Customer.Status.LOST).count() == 60
    hold.refresh_from_db()
    assert hold.resolved_at is not None and hold.resolution == "confirmed"
    assert client.get("/healthz?only=reconcile").status_code == 200


def test_a_relation_ended_by_the_reconcile_marks_the_customer_lost_as_a_callback_does(
    corp, wecom_sandbox
):
    """Below the threshold the reconcile ends what WeCom lost, with the callback's effects."""
    gone = corp[1]  # followed by lina only
    wecom_sandbox.control("staff_deletes_customer", userid="lina", external_userid=gone)
    report = run_sync()
    assert report == {"follows_ended": 1}
    relation = FollowRelation.objects.get(customer__external_userid=gone)
    assert relation.status == FollowRelation.Status.REMOVED_BY_STAFF and relation.removed_at
    assert Customer.objects.get(external_userid=gone).status == Customer.Status.LOST
    assert not ReconcileHold.objects.exists()
    assert run_sync() == {}


def test_the_admin_confirm_action_is_for_ops_admins_only(corp, wecom_sandbox, client, cast):
    for endpoint, answer in EMPTY.items():
        wecom_sandbox.fault(endpoint, answer=answer, times=-1)
    run_sync()
    hold = ReconcileHold.objects.get()
    client.force_login(cast.ops)
    page = client.get("/admin/wecom/reconcilehold/")
    assert page.status_code == 200 and "confirm_and_sync" not in page.content.decode()
    client.force_login(cast.ops_admin)
    page = client.get("/admin/wecom/reconcilehold/")
    assert "confirm_and_sync" in page.content.decode()
    assert hold.resolved_at is None


def test_wecom_listing_no_follow_users_stops_the_reconcile_too(corp, wecom_sandbox):
    """An app without the customer-contact permission sees no follow users at all."""
    before = _live()
    for endpoint, answer in {**NO_FOLLOW_USERS, **EMPTY}.items():
        wecom_sandbox.fault(endpoint, answer=answer, times=-1)
    held = run_sync()
    assert "held" in held and _live() == before
    hold = ReconcileHold.objects.get()
    assert hold.counts["relations"]["remove"] == 60
    assert hold.counts["staff"]["remove"] == before[2]
