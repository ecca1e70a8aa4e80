"""Processing inbox rows: claims, groups, unknown events, retries, dead rows, replay, sweeper."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from groups.models import CustomerGroup, GroupMember
from scrm.wecom.inbox import inbox_event_process, inbox_event_replay, inbox_event_store, inbox_sweep
from scrm.wecom.models import InboxEvent
from tests.wecom.events import deliver, scan_and_process

pytestmark = pytest.mark.django_db


def test_unknown_events_are_kept_and_marked_ignored(wecom_sandbox):
    event = deliver({"Event": "some_new_event", "ChangeType": "whatever"})
    assert event.status == "ignored" and event.payload["Event"] == "some_new_event"


def test_a_claimed_row_is_not_processed_twice():
    event_id = inbox_event_store(fields={"Event": "x", "CreateTime": "1"})
    InboxEvent.objects.filter(id=event_id).update(
        status="processing", lease_until=timezone.now() + timedelta(minutes=1)
    )
    assert inbox_event_process(event_id=event_id).status == "skipped"


def test_a_stale_lease_is_reclaimed_by_the_sweeper_and_processed():
    event_id = inbox_event_store(fields={"Event": "x", "CreateTime": "2"})
    InboxEvent.objects.filter(id=event_id).update(
        status="processing", lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert event_id in inbox_sweep()
    assert inbox_event_process(event_id=event_id).status == "ignored"


def test_rows_the_broker_lost_are_found_by_the_sweeper_after_a_while():
    event_id = inbox_event_store(fields={"Event": "x", "CreateTime": "3"})
    assert event_id not in inbox_sweep()  # just arrived: its task is probably queued
    InboxEvent.objects.filter(id=event_id).update(received_at=timezone.now() - timedelta(minutes=5))
    assert event_id in inbox_sweep()


def test_a_failing_row_is_retried_with_backoff_then_parked_dead_and_can_be_replayed(
    wecom_sandbox, settings
):
    settings.WECOM_INBOX_MAX_ATTEMPTS = 2
    settings.WECOM_RETRY_MAX_ATTEMPTS = 1
    wecom_sandbox.seed_staff("lina")
    r = wecom_sandbox.control("scan", userid="lina", welcome_code=False)
    wecom_sandbox.fault("externalcontact/get", errcode=-1, times=2)
    fields = {
        "Event": "change_external_contact",
        "ChangeType": "add_external_contact",
        "UserID": "lina",
        "ExternalUserID": r["external_userid"],
        "CreateTime": "100",
    }
    event_id = inbox_event_store(fields=fields)
    first = inbox_event_process(event_id=event_id)
    assert first.status == "pending" and first.retry_in and first.retry_in > 0
    row = InboxEvent.objects.get(id=event_id)
    assert row.next_attempt_at > timezone.now() and "-1" in row.last_error
    assert inbox_event_process(event_id=event_id).status == "dead"
    row.refresh_from_db()
    assert row.status == "dead" and row.attempts == 2 and "WeComRetryableError" in row.last_error
    # Ops replays it once WeCom is healthy again.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("scrm.wecom.inbox.inbox_rows_enqueue_on_commit", lambda count=1: None)
        assert inbox_event_replay(event_ids=[event_id]) == 1
    assert inbox_event_process(event_id=event_id).status == "done"


def test_group_events_mirror_the_group_and_its_members(wecom_sandbox):
    wecom_sandbox.seed_staff("lina")
    r1, _ = scan_and_process(wecom_sandbox, userid="lina", welcome_code=False)
    chat = wecom_sandbox.control("group_create", owner="lina", name="福田理财1群")
    deliver({"Event": "change_external_chat", "ChangeType": "create", "ChatId": chat["chat_id"]})
    way = wecom_sandbox.sandbox.api(
        "externalcontact/groupchat/add_join_way",
        {"access_token": next(iter(wecom_sandbox.sandbox.state.tokens))},
        {"scene": 2, "chat_id_list": [chat["chat_id"]], "room_base_name": "福田理财"},
    )
    wecom_sandbox.control(
        "join_group", config_id=way["config_id"], external_userid=r1["external_userid"]
    )
    deliver(
        {
            "Event": "change_external_chat",
            "ChangeType": "update",
            "UpdateDetail": "add_member",
            "ChatId": chat["chat_id"],
            "CurMemVer": "2",
        }
    )
    group = CustomerGroup.objects.get(chat_id=chat["chat_id"])
    assert (
        group.name == "福田理财1群" and group.owner.userid == "lina" and group.customer_count == 1
    )
    member = GroupMember.objects.get(group=group, member_type=2)
    assert member.customer.external_userid == r1["external_userid"] and member.join_scene == 3
    wecom_sandbox.control(
        "leave_group", chat_id=chat["chat_id"], external_userid=r1["external_userid"]
    )
    deliver(
        {
            "Event": "change_external_chat",
            "ChangeType": "update",
            "UpdateDetail": "del_member",
            "ChatId": chat["chat_id"],
            "CurMemVer": "3",
        }
    )
    member.refresh_from_db()
    assert not member.is_active and member.left_at is not None
    deliver({"Event": "change_external_chat", "ChangeType": "dismiss", "ChatId": chat["chat_id"]})
    assert CustomerGroup.objects.get(chat_id=chat["chat_id"]).status == "dismissed"


def test_drains_take_the_oldest_waiting_rows_first_and_leave_rows_in_backoff():
    from scrm.wecom.inbox import inbox_waiting_process
    from scrm.wecom.tasks import inbox_drain

    first, second, third = (
        inbox_event_store(fields={"Event": "x", "CreateTime": str(n)}) for n in (10, 11, 12)
    )
    InboxEvent.objects.filter(id=first).update(
        next_attempt_at=timezone.now() + timedelta(minutes=1)  # failed once; not due yet
    )
    [outcome] = inbox_waiting_process(limit=1)
    assert outcome.event_id == second and outcome.status == "ignored"
    assert inbox_drain(5) == 1  # only the third was left to take
    statuses = dict(InboxEvent.objects.values_list("id", "status"))
    assert statuses == {first: "pending", second: "ignored", third: "ignored"}
    assert inbox_waiting_process(limit=1) == []
    InboxEvent.objects.filter(id=first).update(next_attempt_at=timezone.now())
    assert inbox_drain(5) == 1 and InboxEvent.objects.get(id=first).status == "ignored"


def test_a_drain_stops_at_its_limit_and_skips_rows_another_worker_holds():
    from scrm.wecom.tasks import inbox_drain

    ids = [inbox_event_store(fields={"Event": "x", "CreateTime": str(n)}) for n in range(20, 25)]
    InboxEvent.objects.filter(id=ids[0]).update(
        status="processing", lease_until=timezone.now() + timedelta(minutes=1)
    )
    assert inbox_drain(2) == 2
    statuses = [InboxEvent.objects.get(id=i).status for i in ids]
    assert statuses == ["processing", "ignored", "ignored", "pending", "pending"]
    row = InboxEvent.objects.get(id=ids[1])
    assert row.attempts == 1 and row.processed_at is not None and row.lease_until is None


def test_a_drain_claims_a_few_rows_at_a_time_and_runs_them_in_arrival_order(settings, monkeypatch):
    from scrm.wecom import dispatch
    from scrm.wecom.tasks import inbox_drain

    settings.WECOM_INBOX_CLAIM_BATCH = 3
    ran: list[str] = []
    seen_claimed: list[int] = []

    def handler(fields):
        ran.append(fields["CreateTime"])
        seen_claimed.append(InboxEvent.objects.filter(status="processing").count())

    monkeypatch.setattr(dispatch, "handler_for", lambda fields: handler)
    ids = [inbox_event_store(fields={"Event": "x", "CreateTime": str(n)}) for n in range(30, 37)]
    assert inbox_drain(7) == 7
    assert ran == [str(n) for n in range(30, 37)]
    # Claims of 3, 3, then the last one: the rows claimed together wait their turn.
    assert seen_claimed == [3, 2, 1, 3, 2, 1, 1]
    rows = InboxEvent.objects.filter(id__in=ids)
    assert {(row.status, row.attempts) for row in rows} == {("done", 1)}


def test_a_slow_drain_hands_back_the_rows_it_has_not_started(settings, monkeypatch):
    """Half the lease gone: the rest of the claim goes back to the queue (attempts
    untouched), so the sweeper never re-sends a row this worker still means to run."""
    from scrm.wecom import dispatch
    from scrm.wecom.tasks import inbox_drain

    settings.WECOM_INBOX_CLAIM_BATCH = 4
    settings.WECOM_INBOX_LEASE_S = 1
    monkeypatch.setattr(dispatch, "handler_for", lambda fields: lambda f: time.sleep(0.6))
    ids = [inbox_event_store(fields={"Event": "x", "CreateTime": str(n)}) for n in range(40, 44)]
    assert inbox_drain(4) == 1
    rows = {row.id: row for row in InboxEvent.objects.filter(id__in=ids)}
    assert (rows[ids[0]].status, rows[ids[0]].attempts) == ("done", 1)
    assert {(rows[i].status, rows[i].attempts, rows[i].lease_until) for i in ids[1:]} == {
        ("pending", 0, None)
    }


def test_the_publisher_sends_one_drain_per_batch_of_waiting_rows(monkeypatch):
    from scrm.wecom import inbox
    from scrm.wecom.tasks import inbox_drain

    sent: list[tuple] = []
    monkeypatch.setattr(inbox_drain, "apply_async", lambda args, **kw: sent.append(args))
    publisher = inbox._Publisher(max_batch=100)
    assert publisher.publish(250)
    assert sent == [(100,), (100,), (50,)]
    publisher.open_until = time.monotonic() + 60  # broker down a moment ago: the sweeper's turn
    assert not publisher.publish(10) and len(sent) == 3


def test_the_publisher_announces_a_lone_row_at_once_and_a_stream_at_intervals(monkeypatch):
    from scrm.wecom import inbox
    from scrm.wecom.tasks import inbox_drain

    sent: list[tuple[float, int]] = []
    monkeypatch.setattr(
        inbox_drain, "apply_async", lambda args, **kw: sent.append((time.monotonic(), args[0]))
    )
    publisher = inbox._Publisher(linger_s=0.02, interval_s=0.4, max_batch=1000)
    started = time.monotonic()
    publisher.submit()
    while not sent and time.monotonic() - started < 5:
        time.sleep(0.005)
    assert sent and sent[0][0] - started < 0.3  # a quiet moment: no interval to wait out
    streamed_from = time.monotonic()
    for _ in range(120):  # a steady stream for about 1.2 s
        publisher.submit()
        time.sleep(0.01)
    while sum(n for _, n in sent) < 121 and time.monotonic() - streamed_from < 5:
        time.sleep(0.01)
    assert sum(n for _, n in sent) == 121  # every row announced
    gaps = [b - a for (a, _), (b, _) in zip(sent, sent[1:], strict=False)]
    assert len(sent) <= 6 and min(gaps) >= 0.35, sent


def _analyze_inbox() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE wecom_inboxevent")


def _scans(explained: str | list) -> list[dict]:
    """The scan nodes of an ``EXPLAIN (FORMAT JSON)`` result, outermost first."""
    nodes = [(json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]]
    scans = []
    while nodes:
        node = nodes.pop(0)
        if "Scan" in node["Node Type"]:
            scans.append(node)
        nodes.extend(node.get("Plans", []))
    return scans


def test_a_claim_after_a_burst_does_not_read_the_rows_already_processed():
    """The planner's statistics lag during a burst (they still say nearly every
    row waits), and the processed rows sit at the low ids: a claim must still go
    straight to the oldest waiting row instead of filtering its way past them."""
    from scrm.wecom.inbox import _CLAIM_NEXT

    now = timezone.now()
    InboxEvent.objects.bulk_create(
        InboxEvent(dedupe_key=f"burst|{n}", event="x", payload={}, received_at=now)
        for n in range(3000)
    )
    _analyze_inbox()
    waiting = InboxEvent.objects.order_by("-id").values_list("id", flat=True)[0]
    InboxEvent.objects.exclude(id=waiting).update(status="done", processed_at=now)
    statement = _CLAIM_NEXT.split(";", 1)[1]
    params = {"now": now, "lease": now + timedelta(minutes=1), "limit": 10}
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
        scans = [node for node in _scans(cursor.fetchone()[0]) if "Relation Name" in node]
    # The waiting rows are found through the index of waiting rows, then updated by id.
    assert sorted(node.get("Index Name") for node in scans) == [
        "wecom_inbox_pending_idx",
        "wecom_inboxevent_pkey",
    ]
    assert all(node.get("Rows Removed by Filter", 0) == 0 for node in scans)
    claimed = InboxEvent.objects.get(id=waiting)
    assert claimed.status == "processing" and claimed.attempts == 1


def test_listing_the_dead_rows_reads_only_dead_rows():
    """Ops open the dead rows to replay them; among many processed rows that
    list must not walk the whole inbox."""
    now = timezone.now()
    InboxEvent.objects.bulk_create(
        InboxEvent(
            dedupe_key=f"old|{n}",
            event="x",
            payload={},
            received_at=now,
            status="dead" if n % 1000 == 0 else "done",
        )
        for n in range(3000)
    )
    _analyze_inbox()
    dead = InboxEvent.objects.filter(status="dead").order_by("-id")[:100]
    assert [node.get("Index Name") for node in _scans(dead.explain(format="json"))] == [
        "wecom_inbox_dead_idx"
    ]
    assert len(dead) == 3
