"""Reconciliation with WeCom (``wecom_sync``): pulls everything, idempotent, reports changes."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from contacts.models import Customer, FollowRelation, Staff
from groups.models import CustomerGroup, GroupMember
from scrm.wecom.adapter import wecom
from tagging.models import CustomerTag, TagGroup

pytestmark = pytest.mark.django_db


def run_sync() -> dict:
    out = StringIO()
    call_command("wecom_sync", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_a_first_sync_pulls_everything_and_a_second_changes_nothing(wecom_sandbox):
    wecom_sandbox.control(
        "staff", users=[{"userid": "lina", "name": "李娜"}, {"userid": "chenjing", "name": "陈静"}]
    )
    group = wecom.corp_tag_add(group_name="资产", tags=[{"name": "私行"}])
    tag_id = group["tag"][0]["id"]
    exts = wecom_sandbox.control(
        "customers",
        customers=[
            {
                "name": f"客户{i}",
                "follow": [
                    {"userid": "lina", "state": "oa", "tag_ids": [tag_id] if i == 0 else []}
                ],
            }
            for i in range(7)
        ]
        + [{"name": "双跟进", "follow": [{"userid": "lina"}, {"userid": "chenjing"}]}],
    )["external_userids"]
    chat = wecom_sandbox.control(
        "group_create", owner="lina", name="群A", members=exts[:3], callback=False
    )
    first = run_sync()
    assert (
        first["staff_created"] == 2
        and first["customers_created"] == 8
        and first["follows_created"] == 9
    )
    assert first["groups_created"] == 1 and first["group_members_added"] == 4
    assert Staff.objects.get(userid="lina").name == "李娜"
    assert Customer.objects.count() == 8 and FollowRelation.objects.count() == 9
    assert CustomerTag.objects.get().tag.wecom_id == tag_id
    assert TagGroup.objects.get().wecom_id == group["group_id"]
    assert GroupMember.objects.filter(group__chat_id=chat["chat_id"], member_type=2).count() == 3
    assert run_sync() == {}


def test_relations_and_groups_gone_from_wecom_are_ended(wecom_sandbox):
    wecom_sandbox.seed_staff("lina")
    ext = wecom_sandbox.control("customers", customers=[{"follow": [{"userid": "lina"}]}])[
        "external_userids"
    ][0]
    chat = wecom_sandbox.control("group_create", owner="lina", name="群B", callback=False)
    run_sync()
    with wecom_sandbox.sandbox.lock:
        wecom_sandbox.sandbox.state.follows[(ext, "lina")]["active"] = False
        wecom_sandbox.sandbox.state.chats[chat["chat_id"]]["dismissed"] = True
    report = run_sync()
    assert report["follows_ended"] == 1 and report["groups_dismissed"] == 1
    assert FollowRelation.objects.get().status != "active"
    assert CustomerGroup.objects.get().status == "dismissed"
