"""Our own actions become behaviour events (source ``action``) through the hooks of
the apps below, once each however often the change is reported."""

from __future__ import annotations

import pytest
from django.conf import settings

from groups.sync import group_upsert_from_wecom
from tagging.behaviour.models import Event, Material
from tests.behaviour.conftest import approved_content
from tests.factories import ChannelCodeFactory, CustomerFactory
from tests.wecom.events import scan_and_process

pytestmark = pytest.mark.django_db


def chat(members, version):
    return {
        "chat_id": "wrGROUP1",
        "name": "福田美食群",
        "owner": "lina",
        "member_version": version,
        "member_list": [
            {"userid": "lina", "type": 1, "join_time": 1700000000, "join_scene": 1},
            *[
                {"userid": uid, "type": 2, "join_time": 1700000100, "join_scene": 3}
                for uid in members
            ],
        ],
    }


def test_joining_and_leaving_a_group_are_recorded_once_each():
    a, b = CustomerFactory(external_userid="wmA"), CustomerFactory(external_userid="wmB")
    group, _ = group_upsert_from_wecom(chat=chat(["wmA", "wmB"], "v1"), state="sz-food")
    joined = Event.objects.filter(type="group_joined").order_by("customer_id")
    assert [(e.source, e.customer_id) for e in joined] == [("action", a.pk), ("action", b.pk)]
    assert joined[0].event_id.startswith(f"group_joined:{group.pk}:{a.pk}:")
    assert joined[0].properties == {
        "group": group.pk,
        "region": group.region_id,
        "join_scene": 3,
        "state": "sz-food",
    }
    group_upsert_from_wecom(chat=chat(["wmA", "wmB"], "v2"))  # the same read again
    assert Event.objects.count() == 2
    group_upsert_from_wecom(chat=chat(["wmA"], "v3"))
    left = Event.objects.get(type="group_left")
    assert left.customer_id == b.pk
    assert left.properties == {"group": group.pk, "region": group.region_id}


def test_a_new_friend_is_recorded_and_the_welcome_carries_a_tracked_link(
    wecom_sandbox, cast, client
):
    wecom_sandbox.seed_staff("lina")
    content = approved_content(cast, url="https://bank.example/cards/new")
    ChannelCodeFactory(state="card-day", welcome_content=content, welcome_text="欢迎！")
    result, event = scan_and_process(wecom_sandbox, userid="lina", state="card-day", name="王五")
    assert event.status == "done"
    added = Event.objects.get(type="friend_added")
    assert added.customer.external_userid == result["external_userid"]
    assert added.properties == {"staff": "lina", "state": "card-day"}

    sent = wecom_sandbox.state()["welcome_sent"]
    assert len(sent) == 1
    (link,) = [a["link"] for a in sent[0]["attachments"] if a["msgtype"] == "link"]
    base = settings.SCRM_PUBLIC_URL.rstrip("/")
    assert link["url"].startswith(f"{base}/t/")
    material = Material.objects.get(url="https://bank.example/cards/new")
    response = client.get(link["url"][len(base) :])
    assert response.status_code == 302 and response["Location"] == material.url
    opened = Event.objects.get(type="material_opened")
    assert opened.customer_id == added.customer_id
