"""D2 channel codes: contact ways kept in step with WeCom; a missed welcome becomes a task (D11)."""

from __future__ import annotations

import pytest

from contacts.channels import channel_code_push, channel_figures
from contacts.models import ChannelCode, Customer, FollowRelation, TimelineEntry
from scrm.workspace.models import ManagerTask
from tests.factories import ChannelCodeFactory
from tests.wecom.events import scan_and_process

pytestmark = pytest.mark.django_db


@pytest.fixture
def corp(wecom_sandbox, cast):
    wecom_sandbox.control(
        "staff",
        users=[{"userid": "lina", "name": "李娜"}, {"userid": "chenjing", "name": "陈静"}],
    )
    return wecom_sandbox


def _ways(sandbox) -> dict[str, dict]:
    return {w["config_id"]: w for w in sandbox.state()["contact_ways"]}


def test_rotation_edits_and_deactivation_follow_the_channel_in_wecom(
    corp, cast, client, django_capture_on_commit_callbacks
):
    channel = ChannelCodeFactory(state="offline-coffee", name="咖啡店活动")
    channel.staff.set([cast.staff_a])
    channel = channel_code_push(channel_id=channel.pk)
    assert _ways(corp)[channel.config_id]["type"] == 1

    # Several staff in rotation: WeCom needs a type-2 way, so the code is replaced.
    channel.staff.set([cast.staff_a, cast.staff_b])
    old_config = channel.config_id
    channel = channel_code_push(channel_id=channel.pk)
    way = _ways(corp)[channel.config_id]
    assert old_config not in _ways(corp)
    assert (way["type"], sorted(way["user"])) == (2, ["chenjing", "lina"])
    first = corp.control("scan", config_id=channel.config_id)["userid"]
    second = corp.control("scan", config_id=channel.config_id)["userid"]
    assert {first, second} == {"lina", "chenjing"}

    client.force_login(cast.ops)
    form = {
        "name": "咖啡店活动",
        "channel_type": "offline_event",
        "state": channel.state,
        "is_active": "on",
        "skip_verify": "",
        "staff": [str(cast.staff_a.pk), str(cast.staff_b.pk)],
    }
    # The admin pushes once its transaction has committed.
    change_url = f"/admin/contacts/channelcode/{channel.pk}/change/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(change_url, form)
    assert response.status_code == 302
    assert _ways(corp)[channel.config_id]["skip_verify"] is False
    assert _ways(corp)[channel.config_id]["state"] == "offline-coffee"

    # Deactivated: the QR code stops working in WeCom; the channel and its figures stay.
    del form["is_active"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(change_url, form)
    channel.refresh_from_db()
    assert corp.state()["contact_ways"] == [] and channel.config_id == ""

    form["is_active"] = "on"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(change_url, form)
    assert len(corp.state()["contact_ways"]) == 1
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin/contacts/channelcode/{channel.pk}/delete/", {"post": "yes"})
    assert corp.state()["contact_ways"] == []
    assert not ChannelCode.objects.filter(pk=channel.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_wecom_refusing_a_channel_is_explained_to_ops(corp, cast, client):
    """The push runs once the admin's save committed, still within the request."""
    corp.fault("externalcontact/add_contact_way", errcode=41045, times=1)
    client.force_login(cast.ops)
    form = {
        "name": "外呼",
        "channel_type": "outbound_call",
        "state": "",
        "skip_verify": "on",
        "is_active": "on",
        "staff": [str(cast.staff_a.pk)],
    }
    response = client.post("/admin/contacts/channelcode/add/", form, follow=True)
    assert "联系我二维码数量已达上限" in response.content.decode()
    channel = ChannelCode.objects.get(name="外呼")
    assert channel.config_id == ""

    # The channel stays retryable: saving it again once WeCom accepts creates the code.
    form["state"] = channel.state
    response = client.post(f"/admin/contacts/channelcode/{channel.pk}/change/", form, follow=True)
    assert "已同步到企业微信「联系我」" in response.content.decode()
    channel.refresh_from_db()
    assert channel.config_id in _ways(corp)


def test_a_spent_welcome_code_gives_the_manager_a_greeting_task(corp, cast):
    """D5/D11: the welcome code lives 20 seconds; when it is gone the manager greets by hand."""
    ChannelCodeFactory(state="ch-late", welcome_text="{客户名称}您好")
    corp.control("config", welcome_code_ttl_s=0)
    result, event = scan_and_process(corp, userid="lina", state="ch-late", name="周敏")
    assert event.status == "done"
    relation = FollowRelation.objects.get(customer__external_userid=result["external_userid"])
    assert TimelineEntry.objects.filter(kind="welcome_failed").count() == 1
    greet = ManagerTask.objects.get(dedupe_key=f"welcome_failed:{relation.pk}")
    assert greet.staff == cast.staff_a and "周敏" in greet.title
    assert ManagerTask.objects.filter(dedupe_key=f"new_friend:{relation.pk}").count() == 1


def test_figures_count_adds_removals_and_verified_first_touches(corp, cast):
    from django.utils import timezone

    channel = ChannelCodeFactory(state="txn-alert")
    a, _ = scan_and_process(corp, userid="lina", state="txn-alert")
    scan_and_process(corp, userid="lina", state="txn-alert")
    corp.control("customer_deletes_staff", userid="lina", external_userid=a["external_userid"])
    from contacts.events import on_staff_deleted_by_customer

    on_staff_deleted_by_customer({"UserID": "lina", "ExternalUserID": a["external_userid"]})
    Customer.objects.filter(external_userid=a["external_userid"]).update(verified_at=timezone.now())
    f = channel_figures(channels=[channel])[channel.pk]
    assert (f.adds, f.removals, f.net, f.verified_share) == (2, 1, 1, 0.5)


def test_the_admin_list_and_the_channel_page_show_the_same_figures(corp, cast, rf):
    """One computation: the list's sortable columns and the channel's own figures agree,
    and a channel without a state counts no relations (not everyone without one)."""
    from django.contrib import admin

    from contacts.channels import ChannelFigures
    from tests.factories import CustomerFactory, FollowRelationFactory

    channel = ChannelCodeFactory(state="moments-1")
    blank = ChannelCodeFactory(state="")
    kept = FollowRelationFactory(state="moments-1", staff=cast.staff_a)
    FollowRelationFactory(
        state="moments-1", staff=cast.staff_b, status=FollowRelation.Status.REMOVED_BY_CUSTOMER
    )
    FollowRelationFactory(state="", staff=cast.staff_a)  # came in through no channel
    Customer.objects.filter(pk=kept.customer_id).update(first_channel=channel)
    CustomerFactory(first_channel=channel, verified_at=kept.added_at)

    model_admin = admin.site._registry[ChannelCode]
    request = rf.get("/admin/contacts/channelcode/")
    request.user = cast.ops_admin
    listed = {c.pk: c for c in model_admin.get_queryset(request)}
    figures = channel_figures(channels=[channel, blank])
    for pk in (channel.pk, blank.pk):
        row = listed[pk]
        shown = (
            model_admin.adds(row),
            model_admin.removals(row),
            model_admin.net(row),
            model_admin.verified_share(row),
        )
        f = figures[pk]
        share = f"{f.verified_share:.0%}" if f.verified_share is not None else "—"
        assert shown == (f.adds, f.removals, f.net, share)
        assert ChannelFigures.of(row) == f
    assert figures[channel.pk] == ChannelFigures(adds=2, removals=1, first_touch=2, verified=1)
    assert figures[blank.pk] == ChannelFigures()
