"""D2/D5/D9/D11 end to end: ops create a channel code in the admin, a customer scans it.

Sandbox (real HTTP) → app webhook (live server) → inbox → a real Celery worker:
the customer exists once with the channel as first touch, carries the channel's
tags here and in WeCom (``mark_tag``), got the welcome with the approved
attachment and their join link, and their manager has a new-friend task. A
second scan through another channel keeps the first touch.
"""

from __future__ import annotations

import time

import pytest

from contacts.models import ChannelCode, Customer, FollowRelation, TimelineEntry
from scrm.wecom.models import InboxEvent
from scrm.workspace.models import ManagerTask
from tagging.models import CustomerTag, Tag
from tests.conftest import WorkerProcess, child_env
from tests.factories import GroupPoolFactory, TagFactory, TagGroupFactory

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("wecom-e2e")]

FAST = {"WECOM_RETRY_BASE_S": "0.05", "WECOM_RETRY_MAX_S": "0.5", "WECOM_RATE_BLOCK_S": "1"}


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def wired(wecom_sandbox, live_server):
    wecom_sandbox.sandbox.config.callback_url = f"{live_server.url}/wecom/callback/"
    wecom_sandbox.control(
        "staff",
        users=[{"userid": "lina", "name": "李娜"}, {"userid": "chenjing", "name": "陈静"}],
    )
    return wecom_sandbox


@pytest.fixture
def worker(wired, transactional_db):
    from scrm.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    proc = WorkerProcess(child_env(**FAST)).start()
    yield proc
    proc.stop()


@pytest.fixture
def welcome_content(cast):
    from scrm.content import services

    content = services.content_create(
        actor=cast.ops,
        title="周三美食福利",
        text="本周三美食五折",
        attachments=[
            {
                "msgtype": "link",
                "link": {"title": "周三美食五折", "url": "https://bank.example/food"},
            }
        ],
    )
    services.content_submit(actor=cast.ops, content_id=content.pk)
    services.content_approve(actor=cast.compliance, content_id=content.pk, comment="符合要求")
    return content


@pytest.fixture
def food_tag(wired, transactional_db) -> Tag:
    from tagging.services import tag_group_push

    tag = TagFactory(group=TagGroupFactory(name="渠道来源"), name="手机银行")
    tag_group_push(group_id=tag.group_id)
    tag.refresh_from_db()
    assert tag.wecom_id
    return tag


def _admin_add_channel(client, **fields) -> ChannelCode:
    data = {
        "name": fields["name"],
        "channel_type": fields.get("channel_type", "mobile_bank"),
        "state": "",
        "is_active": "on",
        "skip_verify": "on",
        "staff": [str(s) for s in fields["staff"]],
        "tags": [str(t) for t in fields.get("tags", [])],
        "welcome_text": fields.get("welcome_text", ""),
        "welcome_content": str(fields.get("welcome_content", "")),
        "invite_pool": str(fields.get("invite_pool", "")),
    }
    response = client.post("/admin/contacts/channelcode/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return ChannelCode.objects.get(name=fields["name"])


def test_a_channel_made_in_the_admin_brings_a_tagged_welcomed_customer_with_a_task(
    cast, client, wired, worker, welcome_content, food_tag
):
    """D2, D5, D9, D11."""
    client.force_login(cast.ops)
    pool = GroupPoolFactory(region__code="440300", region__name="深圳")
    channel = _admin_add_channel(
        client,
        name="手机银行首页",
        staff=[cast.staff_a.pk],
        tags=[food_tag.pk],
        welcome_text="{客户名称}您好，我是您的客户经理{客户经理}",
        welcome_content=welcome_content.pk,
        invite_pool=pool.pk,
    )
    assert channel.config_id and channel.qr_code and 0 < len(channel.state) <= 30
    ways = {w["config_id"]: w for w in wired.state()["contact_ways"]}
    way = ways[channel.config_id]
    assert (way["type"], way["scene"], way["state"], way["user"]) == (
        1,
        2,
        channel.state,
        ["lina"],
    )
    page = client.get(f"/admin/contacts/channelcode/{channel.pk}/change/").content.decode()
    assert channel.qr_code in page

    scan = wired.control("scan", config_id=channel.config_id, name="刘洋")
    assert scan["deliveries"] == [[200]]
    wait_for(lambda: InboxEvent.objects.filter(status="done").count() == 1, what="the add event")
    customer = Customer.objects.get()
    assert customer.external_userid == scan["external_userid"]
    assert customer.first_channel == channel and customer.first_state == channel.state

    sent = wired.state()["welcome_sent"]
    assert len(sent) == 1
    assert sent[0]["text"] == "刘洋您好，我是您的客户经理李娜"
    links = [a["link"] for a in sent[0]["attachments"] if a["msgtype"] == "link"]
    # The content's link goes out as the customer's own tracked link (tagging.behaviour).
    assert any(link["title"] == "周三美食五折" and "/t/" in link["url"] for link in links)
    join = [link["url"] for link in links if "/h5/join/?t=" in link["url"]]
    assert len(join) == 1 and "region=440300" in join[0]

    relation = FollowRelation.objects.get(customer=customer)
    task = ManagerTask.objects.get(dedupe_key=f"new_friend:{relation.pk}")
    assert task.kind == ManagerTask.Kind.NEW_FRIEND and task.staff == cast.staff_a

    row = CustomerTag.objects.get(customer=customer)
    assert (row.tag, row.source) == (food_tag, CustomerTag.Source.CHANNEL)
    wait_for(
        lambda: CustomerTag.objects.filter(pk=row.pk, synced_at__isnull=False).exists(),
        what="the tag to reach WeCom",
    )
    marks = wired.state()["tag_marks"]
    assert marks == [
        {
            "userid": "lina",
            "external_userid": customer.external_userid,
            "add_tag": [food_tag.wecom_id],
            "remove_tag": [],
        }
    ]
    follow = next(
        f
        for f in wired.state()["follows"]
        if f["external_userid"] == customer.external_userid and f["userid"] == "lina"
    )
    assert follow["tag_ids"] == [food_tag.wecom_id]

    # A second channel, served by another manager: the first touch stays.
    other = _admin_add_channel(client, name="朋友圈海报", staff=[cast.staff_b.pk])
    wired.control("scan", config_id=other.config_id, external_userid=customer.external_userid)
    wait_for(lambda: InboxEvent.objects.filter(status="done").count() == 2, what="the second add")
    customer.refresh_from_db()
    assert customer.first_channel == channel
    assert Customer.objects.count() == 1 and customer.follows.count() == 2
    touch = TimelineEntry.objects.get(customer=customer, kind="channel_touch")
    assert touch.data["channel_id"] == other.pk

    listing = client.get("/admin/contacts/channelcode/").content.decode()
    assert "手机银行首页" in listing and "朋友圈海报" in listing
