"""Fault suite: WeCom callbacks delivered three times while a part of the system fails.

Starts the stack as ``make run`` does (embedded PostgreSQL and Redis, gunicorn, a Celery
worker, beat, the WeCom sandbox over HTTP) in a private var dir. For each scenario it
seeds new customers (each following a manager, with corp tags) and new groups (with
customers as members) in the sandbox, the way WeCom holds them, then sends the app the
callbacks WeCom would: ``add_external_contact`` for each customer and
``change_external_chat``/``create`` for each group, **each delivered three times** (copies
close together, often at the same moment, as WeCom retries), from a separate load
generator that retries any delivery the app did not answer with 200 (as WeCom does). While
the burst is running, one thing fails:

- ``worker_kill``: the Celery worker is killed with SIGKILL and started again 2 s later;
- ``redis_restart``: Redis (broker, cache, rate limits) is stopped and started 3 s later;
- ``postgres_restart``: PostgreSQL is stopped (fast shutdown) and started 3 s later; the
  webhook answers 5xx meanwhile and the sender retries;
- ``wecom_errors``: the sandbox answers ``45009`` (frequency limit), then ``-1`` (system
  busy), then times out, for a few seconds each.

- ``sop_worker_kill``: an SOP slot being pushed to a tenth as many groups as there are
  callbacks when the worker is killed (``bench/sop_fanout.py``'s crash phase, run from
  here: every group gets the slot exactly once);
- ``money_postgres_restart``: coupon claims over HTTP (more customers than stock, each
  pressing again on a 5xx) and due red packets being paid through the payment sandbox,
  when PostgreSQL stops and starts 3 s later.

Then it waits for the drain and compares the app's database with the sandbox's truth:
every callback once in the inbox and processed (none dead), every customer, follow
relation, "customer added" timeline entry and corp tag once, every group with exactly its
members; for money, every unit of stock either claimed by exactly one coupon or still in
stock, at most one coupon a customer, every answered claim holding its coupon, every due
red packet paid exactly once by the payment sandbox and recorded paid. ``lost`` counts facts the app is missing, ``duplicated`` facts it holds more
than once (or that WeCom does not hold). ``recovery_s`` is the time from the failed part
being back to the last fact being right.

    .venv/bin/python bench/faults.py [--events 20000] [--scenario worker_kill ...]

Last line: one JSON object, one key per scenario (``lost``, ``duplicated``,
``recovery_s``, ``deliveries``, ``retried``) plus the totals ``lost`` and ``duplicated``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import free_port, stop, wait_http, web_stack, web_start  # noqa: E402
from _support import bench_reviewers, db_connect, due_red_packets_insert, kill_session  # noqa: E402

CORP_ID, TOKEN, AES_KEY = (
    "ww_faults_corp",
    "faultsToken",
    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
)
SCENARIOS = (
    "worker_kill",
    "redis_restart",
    "postgres_restart",
    "wecom_errors",
    "money_postgres_restart",
    "sop_worker_kill",
)
MONEY_STOCK = 300
MONEY_CUSTOMERS = 1000
MONEY_PAYOUTS = 300
PAY_RATE_PER_MIN = 600
STAFF = [f"fault-staff-{i:02d}" for i in range(20)]
DELIVERIES = 3
MEMBERS_PER_GROUP = 4


# --------------------------------------------------------------------------- load generator


def loadgen_main(args: argparse.Namespace) -> int:
    """Send every delivery in ``--file`` until the app answers 200, each attempt freshly
    encrypted and signed (a new nonce and timestamp, the same event), as WeCom does.
    Prints progress lines (``sent N``) and, last, a JSON summary."""
    from urllib.parse import urlencode

    from scrm.wecom.crypto import Keys, encrypt_event

    keys = Keys(TOKEN, AES_KEY, CORP_ID)
    events = json.loads(Path(args.file).read_text())
    # Three copies of each event, kept close together and shuffled within small blocks, so
    # copies often arrive at the same moment on different connections.
    deliveries = [i for i in range(len(events)) for _ in range(DELIVERIES)]
    block = 12 * DELIVERIES
    rng = random.Random(7)
    for start in range(0, len(deliveries), block):
        part = deliveries[start : start + block]
        rng.shuffle(part)
        deliveries[start : start + block] = part

    def request(index: int) -> tuple[str, bytes, dict]:
        query, body = encrypt_event(keys, events[index], nonce=uuid.uuid4().hex[:16])
        return f"/wecom/callback/?{urlencode(query)}", body, {"Content-Type": "text/xml"}

    statuses, retried = _send_until_answered(
        args, deliveries, request, answered=lambda status: status == 200, progress=3000
    )
    ok = sum(1 for status in statuses if status == 200)
    print(json.dumps({"deliveries": ok, "retried": retried}), flush=True)
    return 0 if ok >= len(deliveries) else 1


def _send_until_answered(args, items: list, request, *, answered, progress: int = 0):
    """POST every item over ``args.concurrency`` keep-alive connections to the web on
    ``args.port``, each again half a second later until ``answered(status)`` (a connection
    error is status 0), as WeCom retries a callback and a customer presses again.
    ``request(item)`` gives (path, body, headers), anew for every attempt. Returns each
    item's final status (0 for one still unanswered at ``args.max_s``) and the retries."""
    todo: queue.Queue = queue.Queue()
    for index in range(len(items)):
        todo.put(index)
    statuses = [0] * len(items)
    lock = threading.Lock()
    counts = {"answered": 0, "retried": 0}
    deadline = time.monotonic() + args.max_s

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
        while time.monotonic() < deadline:
            try:
                index = todo.get(timeout=0.2)
            except queue.Empty:
                with lock:
                    if counts["answered"] >= len(items):
                        return
                continue
            status = 0
            try:
                path, body, headers = request(items[index])
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
            if not answered(status):
                with lock:
                    counts["retried"] += 1
                time.sleep(0.5)
                todo.put(index)
                continue
            with lock:
                statuses[index] = status
                counts["answered"] += 1
                if progress and counts["answered"] % progress == 0:
                    print(f"sent {counts['answered']}", flush=True)

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, counts["retried"]


# --------------------------------------------------------------------------- the sandbox


class Sandbox:
    def __init__(self, port: int):
        self.root = f"http://127.0.0.1:{port}"

    def _post(self, path: str, body: dict, timeout: float) -> dict:
        request = urllib.request.Request(  # noqa: S310 - our own sandbox over http
            f"{self.root}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")

    def _get(self, path: str, timeout: float = 30) -> dict:
        with urllib.request.urlopen(f"{self.root}{path}", timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read())

    def control(self, action: str, **body) -> dict:
        return self._post(f"/sandbox/{action}", body, timeout=120)

    def state(self) -> dict:
        return self._get("/sandbox/state", timeout=120)

    def api(self, endpoint: str, data: dict) -> dict:
        token = self._get(f"/cgi-bin/gettoken?corpid={CORP_ID}&corpsecret=faults-secret")
        return self._post(f"/cgi-bin/{endpoint}?access_token={token['access_token']}", data, 30)


def _corp_tags(sandbox: Sandbox) -> list[str]:
    group = sandbox.api(
        "externalcontact/add_corp_tag",
        {"group_name": "故障演练", "tag": [{"name": f"演练标签{i}"} for i in range(8)]},
    )["tag_group"]
    return [tag["id"] for tag in group["tag"]]


def _seed(sandbox: Sandbox, prefix: str, adds: int, groups: int, tag_ids: list[str]) -> dict:
    """This scenario's corp in the sandbox; the events WeCom would send about it."""
    rng = random.Random(prefix)
    customers = [
        {
            "external_userid": f"wm{prefix}{i:06d}",
            "name": f"演练客户{i}",
            "follow": [
                {
                    "userid": STAFF[i % len(STAFF)],
                    "tag_ids": rng.sample(tag_ids, rng.randint(0, 3)),
                }
            ],
        }
        for i in range(adds)
    ]
    for start in range(0, adds, 2000):
        sandbox.control("customers", customers=customers[start : start + 2000])
    chats = []
    for g in range(groups):
        members = rng.sample(customers, MEMBERS_PER_GROUP)
        result = sandbox.control(
            "group_create",
            owner=STAFF[g % len(STAFF)],
            name=f"演练群{prefix}-{g}",
            members=[m["external_userid"] for m in members],
            callback=False,
        )
        chats.append(result["chat_id"])
    now = int(time.time())
    events = [
        {
            "ToUserName": CORP_ID,
            "FromUserName": "sys",
            "CreateTime": str(now),
            "MsgType": "event",
            "Event": "change_external_contact",
            "ChangeType": "add_external_contact",
            "UserID": c["follow"][0]["userid"],
            "ExternalUserID": c["external_userid"],
            "State": "",
        }
        for c in customers
    ] + [
        {
            "ToUserName": CORP_ID,
            "FromUserName": "sys",
            "CreateTime": str(now),
            "MsgType": "event",
            "Event": "change_external_chat",
            "ChatId": chat_id,
            "ChangeType": "create",
        }
        for chat_id in chats
    ]
    random.Random(prefix + "order").shuffle(events)
    return {
        "customers": [c["external_userid"] for c in customers],
        "chats": chats,
        "events": events,
    }


def _truth(sandbox: Sandbox, seeded: dict) -> dict:
    """What WeCom holds for this scenario: relations with tags, and each group's members."""
    state = sandbox.state()
    wanted = set(seeded["customers"])
    relations = {}
    for follow in state["follows"]:
        if follow["external_userid"] in wanted:
            relations[(follow["external_userid"], follow["userid"])] = set(follow["tag_ids"])
    chats = set(seeded["chats"])
    members = {
        chat["chat_id"]: {m["userid"] for m in chat["member_list"] if m.get("type") == 2}
        for chat in state["chats"]
        if chat["chat_id"] in chats
    }
    return {"relations": relations, "members": members}


# --------------------------------------------------------------------------- the app's side


def _compare(database_url: str, seeded: dict, truth: dict, since: float) -> dict:
    """Facts missing in the app (lost) and facts held twice or not in WeCom (duplicated)."""
    conn = db_connect(database_url)
    lost = duplicated = 0
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*), count(*) FILTER (WHERE status = 'done'),"
                " count(*) FILTER (WHERE status = 'dead')"
                " FROM wecom_inboxevent WHERE received_at >= to_timestamp(%s)",
                [since],
            )
            rows, done, dead = cur.fetchone()
            events = len(seeded["events"])
            lost += max(0, events - done) + dead
            duplicated += max(0, rows - events)

            customers = seeded["customers"]
            cur.execute(
                "SELECT c.external_userid, s.userid, count(*)"
                " FROM contacts_followrelation r"
                " JOIN contacts_customer c ON c.id = r.customer_id"
                " JOIN contacts_staff s ON s.id = r.staff_id"
                " WHERE c.external_userid = ANY(%s) AND r.status = 'active'"
                " GROUP BY 1, 2",
                [customers],
            )
            held = {(ext, userid): n for ext, userid, n in cur.fetchall()}
            for key in truth["relations"]:
                if key not in held:
                    lost += 1
            duplicated += sum(n - 1 for n in held.values() if n > 1)
            duplicated += sum(1 for key in held if key not in truth["relations"])

            cur.execute(
                "SELECT c.external_userid, count(t.id)"
                " FROM contacts_customer c"
                " LEFT JOIN contacts_timelineentry t"
                "   ON t.customer_id = c.id AND t.kind = 'customer_added'"
                " WHERE c.external_userid = ANY(%s) GROUP BY 1",
                [customers],
            )
            added = dict(cur.fetchall())
            lost += sum(1 for ext in customers if added.get(ext, 0) == 0)
            duplicated += sum(n - 1 for n in added.values() if n > 1)

            cur.execute(
                "SELECT c.external_userid, t.wecom_id FROM tagging_customertag ct"
                " JOIN contacts_customer c ON c.id = ct.customer_id"
                " JOIN tagging_tag t ON t.id = ct.tag_id"
                " WHERE c.external_userid = ANY(%s)",
                [customers],
            )
            tags: dict[str, set[str]] = {}
            for ext, wecom_id in cur.fetchall():
                tags.setdefault(ext, set()).add(wecom_id)
            for (ext, _userid), want in truth["relations"].items():
                have = tags.get(ext, set())
                lost += len(want - have)
                duplicated += len(have - want)

            cur.execute(
                "SELECT g.chat_id, m.userid FROM groups_groupmember m"
                " JOIN groups_customergroup g ON g.id = m.group_id"
                " WHERE g.chat_id = ANY(%s) AND m.is_active AND m.member_type = 2",
                [seeded["chats"]],
            )
            members: dict[str, set[str]] = {}
            for chat_id, userid in cur.fetchall():
                members.setdefault(chat_id, set()).add(userid)
            for chat_id, want in truth["members"].items():
                have = members.get(chat_id, set())
                lost += len(want - have)
                duplicated += len(have - want)
            cur.execute(
                "SELECT count(*) - count(DISTINCT (ch.group_id, ch.userid))"
                " FROM groups_groupmemberchange ch JOIN groups_customergroup g"
                "   ON g.id = ch.group_id"
                " WHERE g.chat_id = ANY(%s) AND ch.kind = 'join'",
                [seeded["chats"]],
            )
            duplicated += cur.fetchone()[0]
    finally:
        conn.close()
    return {"lost": lost, "duplicated": duplicated}


def _accepted(database_url: str, since: float) -> int:
    conn = db_connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM wecom_inboxevent WHERE received_at >= to_timestamp(%s)",
                [since],
            )
            return cur.fetchone()[0]
    except Exception:  # PostgreSQL is down in that scenario
        return -1
    finally:
        conn.close()


# --------------------------------------------------------------------------- the faults


def _fault(name: str, stack, sandbox: Sandbox | None) -> float:
    """Make ``name`` happen; returns when the failed part is back (time.monotonic())."""
    services = stack.extra["services"]
    if name == "worker_kill":
        kill_session(stack.worker)
        time.sleep(2)
        stack.worker_start()
    elif name == "redis_restart":
        redis = next(s for s in services.started if s.name == "redis")
        redis.stop()
        time.sleep(3)
        redis.start(adopt=True)
    elif name == "postgres_restart":
        postgres = next(s for s in services.started if s.name == "postgres")
        postgres.stop()
        time.sleep(3)
        postgres.start(adopt=True)
    elif name == "wecom_errors":
        for fault in ({"errcode": 45009}, {"errcode": -1}, {"timeout_s": 6}):
            sandbox.control("faults", endpoint="*", times=-1, **fault)
            time.sleep(4)
            sandbox.control("faults/clear")
    else:
        raise ValueError(name)
    return time.monotonic()


def _drain(compare, *, done, stall_s: float) -> dict:
    """Compare the app with the truth every two seconds until ``done(result)``, or until
    the lost/duplicated figures stopped improving for ``stall_s``; the last result."""
    best, best_at = None, time.monotonic()
    while True:
        result = compare()
        if done(result):
            return result
        score = (result["lost"], result["duplicated"])
        if best is None or score < best:
            best, best_at = score, time.monotonic()
        elif time.monotonic() - best_at > stall_s:
            return result
        time.sleep(2)


def _scenario(name: str, stack, sandbox: Sandbox, tag_ids: list[str], args) -> dict:
    database_url = stack.env["DATABASE_URL"]
    prefix = uuid.uuid4().hex[:6]
    groups = max(1, args.events // 5)
    adds = args.events - groups
    seeded = _seed(sandbox, prefix, adds, groups, tag_ids)
    truth = _truth(sandbox, seeded)
    file = stack.var / f"faults-{name}.json"
    file.write_text(json.dumps([_xml(event) for event in seeded["events"]]))
    since = time.time() - 1
    print(
        f"[faults] {name}: {adds} customers, {groups} groups, x{DELIVERIES} deliveries", flush=True
    )
    gen = subprocess.Popen(  # noqa: S603
        [sys.executable, __file__, "--loadgen", "--port", str(stack.port), "--file", str(file),
         "--concurrency", str(args.concurrency), "--max-s", str(args.max_s)],
        cwd=Path(__file__).resolve().parent.parent,
        env=stack.env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    # Fail mid-burst: once about a third of the events are in the inbox.
    while gen.poll() is None and _accepted(database_url, since) < len(seeded["events"]) // 3:
        time.sleep(0.2)
    fault_at = time.monotonic()
    back_at = _fault(name, stack, sandbox)
    print(f"[faults] {name}: failed for {back_at - fault_at:.1f}s", flush=True)
    out, _ = gen.communicate()
    sent = json.loads(out.strip().splitlines()[-1])
    # The drain: compare until everything is right, or nothing improved for a while.
    result = _drain(
        lambda: _compare(database_url, seeded, truth, since),
        done=lambda r: r["lost"] == 0 and r["duplicated"] == 0,
        stall_s=args.stall_s,
    )
    recovery = round(time.monotonic() - back_at, 1)
    summary = {**result, "recovery_s": recovery, **sent}
    print(f"[faults] {name}: {summary}", flush=True)
    return summary


# --------------------------------------------------------------------------- money


def money_seed_main(args: argparse.Namespace) -> int:
    """In a child with the stack's environment: a live coupon campaign with less stock than
    customers, and a live red-packet campaign with due entries for customers whose payment
    openid is known, all through the services but the bulk rows."""
    import django

    django.setup()
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from campaigns.links import claim_token_make
    from campaigns.payouts.red_packets import red_packet_configure
    from campaigns.services import lifecycle
    from contacts.models import Customer

    ops, reviewer = bench_reviewers()
    now = timezone.now()

    def live(data: dict):
        campaign = lifecycle.campaign_create(
            actor=ops,
            data={
                "starts_at": now - timedelta(hours=1),
                "ends_at": now + timedelta(days=7),
                **data,
            },
        )
        return campaign

    coupons = live(
        {
            "name": "故障演练·满减券", "title": "满100减20", "rules_text": "每位客户限领一张",
            "verified_only": False, "per_customer_limit": 1,
            "velocity_ip_per_hour": None, "velocity_phone_per_hour": None,
        }
    )  # fmt: skip
    template = lifecycle.template_create(
        actor=ops,
        campaign_id=coupons.pk,
        data={
            "title": "满100减20", "kind": "amount_off", "face_value_fen": 2000,
            "min_spend_fen": 10000, "validity": "relative", "valid_days": 7,
            "total_stock": MONEY_STOCK,
        },
    )  # fmt: skip
    packets = live(
        {
            "name": "故障演练·入群红包", "kind": "red_packet", "title": "入群领5元红包",
            "budget_fen": MONEY_PAYOUTS * 500,
        }
    )  # fmt: skip
    red_packet_configure(
        actor=ops, campaign_id=packets.pk, amount_fen=500, delay_workdays=5, conditions=[]
    )
    for campaign in (coupons, packets):
        lifecycle.campaign_submit(actor=ops, campaign_id=campaign.pk)
        lifecycle.campaign_approve(actor=reviewer, campaign_id=campaign.pk)
        lifecycle.campaign_go_live(actor=ops, campaign_id=campaign.pk)
    customers = Customer.objects.bulk_create(
        [
            Customer(external_userid=f"wmMONEY{i:06d}", name=f"客户{i}", first_added_at=now)
            for i in range(MONEY_CUSTOMERS)
        ]
    )
    claims = [
        [f"/h5/claim/{claim_token_make(customer_id=c.pk, campaign_id=coupons.pk)}/",
         f"template={template.pk}", c.pk]
        for c in customers
    ]  # fmt: skip
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO payments_paymentopenid (external_userid, openid, fetched_at)"
            " SELECT external_userid, 'oSbx' || md5(external_userid), now()"
            " FROM contacts_customer WHERE external_userid LIKE 'wmMONEY%%'"
            " ORDER BY id LIMIT %s",
            [MONEY_PAYOUTS],
        )
        due_red_packets_insert(
            cur,
            campaign_id=packets.pk,
            customers="FROM contacts_customer c JOIN payments_paymentopenid p"
            " ON p.external_userid = c.external_userid",
        )
    Path(args.file).write_text(
        json.dumps(
            {"claims": claims, "campaign": coupons.pk, "template": template.pk,
             "packets": packets.pk}
        )
    )  # fmt: skip
    return 0


def claims_loadgen_main(args: argparse.Namespace) -> int:
    """Each customer claims once, pressing again while the answer is a 5xx or nothing."""
    claims = json.loads(Path(args.file).read_text())["claims"]
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    statuses, retried = _send_until_answered(
        args,
        claims,
        lambda claim: (claim[0], claim[1].encode(), headers),
        answered=lambda status: 0 < status < 500,
    )
    answered = {claim[2]: status for claim, status in zip(claims, statuses, strict=True) if status}
    print(json.dumps({"answered": answered, "retried": retried}), flush=True)
    return 0


def _money_compare(database_url: str, seed: dict, answered: dict, pay_base: str) -> dict:
    lost = duplicated = 0
    conn = db_connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT customer_id, count(*) FROM campaigns_coupon WHERE campaign_id = %s"
                " GROUP BY 1",
                [seed["campaign"]],
            )
            held = dict(cur.fetchall())
            cur.execute(
                "SELECT stock_remaining FROM campaigns_coupontemplate WHERE id = %s",
                [seed["template"]],
            )
            remaining = cur.fetchone()[0]
            coupons = sum(held.values())
            duplicated += sum(n - 1 for n in held.values() if n > 1)
            duplicated += max(0, coupons - MONEY_STOCK)  # stock overdrawn
            lost += max(0, MONEY_STOCK - coupons - remaining)  # stock taken, no coupon
            # An answered claim (201) whose coupon is not there.
            lost += sum(
                1 for customer, status in answered.items()
                if status == 201 and int(customer) not in held
            )  # fmt: skip
            cur.execute(
                "SELECT bill_no, status FROM payouts_payout WHERE campaign_id = %s",
                [seed["packets"]],
            )
            ledger = dict(cur.fetchall())
    finally:
        conn.close()
    with urllib.request.urlopen(f"{pay_base}sandbox/bills", timeout=60) as response:  # noqa: S310
        bills = json.loads(response.read())["bills"]
    paid_by_channel: dict[str, int] = {}
    per_openid: dict[str, int] = {}
    for bill in bills:
        paid_by_channel[bill["bill_no"]] = paid_by_channel.get(bill["bill_no"], 0) + 1
        per_openid[bill["openid"]] = per_openid.get(bill["openid"], 0) + 1
    duplicated += sum(n - 1 for n in per_openid.values() if n > 1)
    duplicated += sum(1 for bill_no in paid_by_channel if ledger.get(bill_no) != "paid")
    lost += sum(1 for bill_no in ledger if bill_no not in paid_by_channel)
    lost += sum(1 for status in ledger.values() if status in ("given_up", "cancelled"))
    return {
        "lost": lost,
        "duplicated": duplicated,
        "coupons": coupons,
        "stock_left": remaining,
        "paid": sum(1 for status in ledger.values() if status == "paid"),
    }


def _money_scenario(stack, args) -> dict:
    database_url = stack.env["DATABASE_URL"]
    file = stack.var / "faults-money.json"
    env = {**stack.env, "DJANGO_SETTINGS_MODULE": "scrm.settings.dev"}
    subprocess.run(  # noqa: S603
        [sys.executable, __file__, "--money-seed", "--file", str(file)],
        cwd=Path(__file__).resolve().parent.parent, env=env, check=True,
    )  # fmt: skip
    seed = json.loads(file.read_text())
    print(
        f"[faults] money_postgres_restart: {MONEY_CUSTOMERS} customers claiming {MONEY_STOCK}"
        f" coupons, {MONEY_PAYOUTS} red packets due at {PAY_RATE_PER_MIN} a minute",
        flush=True,
    )

    def counts() -> tuple[int, int]:
        conn = db_connect(database_url)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT (SELECT count(*) FROM campaigns_coupon WHERE campaign_id = %s),"
                    " (SELECT count(*) FROM payouts_payout WHERE campaign_id = %s"
                    "   AND status <> 'scheduled')",
                    [seed["campaign"], seed["packets"]],
                )
                return cur.fetchone()
        finally:
            conn.close()

    # The payouts start first (beat's next run); the claims once they are under way, and
    # PostgreSQL fails when a quarter of the stock is claimed: both are in flight then.
    deadline = time.monotonic() + 120
    while counts()[1] == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    gen = subprocess.Popen(  # noqa: S603
        [sys.executable, __file__, "--claims-loadgen", "--port", str(stack.port), "--file",
         str(file), "--concurrency", "4", "--max-s", str(args.max_s)],
        cwd=Path(__file__).resolve().parent.parent, env=env, stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    while gen.poll() is None and counts()[0] < MONEY_STOCK // 4:
        time.sleep(0.05)
    in_flight = counts()
    fault_at = time.monotonic()
    back_at = _fault("postgres_restart", stack, None)
    print(
        f"[faults] money_postgres_restart: failed for {back_at - fault_at:.1f}s, with"
        f" {in_flight[0]} coupons claimed and {in_flight[1]} red packets under way",
        flush=True,
    )
    out, _ = gen.communicate()
    sent = json.loads(out.strip().splitlines()[-1])
    result = _drain(
        lambda: _money_compare(database_url, seed, sent["answered"], stack.extra["pay_base"]),
        done=lambda r: r["lost"] == 0 and r["duplicated"] == 0 and r["paid"] == MONEY_PAYOUTS,
        stall_s=args.stall_s,
    )
    summary = {
        **result,
        "recovery_s": round(time.monotonic() - back_at, 1),
        "claims_answered": len(sent["answered"]),
        "in_flight": {"coupons_claimed": in_flight[0], "packets_started": in_flight[1]},
        "retried": sent["retried"],
    }
    print(f"[faults] money_postgres_restart: {summary}", flush=True)
    return summary


def _sop_scenario(args) -> dict:
    """``bench/sop_fanout.py`` on its own stack: its crash phase kills the worker while a
    slot is being pushed; the sandbox says which groups got it, and how often."""
    env = {**os.environ, "BENCH_GROUPS": str(max(200, args.events // 10)), "BENCH_OWNERS": "40"}
    run = subprocess.run(  # noqa: S603
        [sys.executable, str(Path(__file__).resolve().parent / "sop_fanout.py")],
        cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"sop_fanout failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    summary = {
        "lost": result["lost"],
        "duplicated": result["duplicates"],
        "recovery_s": result["recovery_s"],
        "groups": result["groups"],
    }
    print(f"[faults] sop_worker_kill: {summary}", flush=True)
    return summary


def _xml(fields: dict) -> str:
    from scrm.wecom.crypto import event_xml

    return event_xml(fields)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000, help="distinct callbacks per scenario")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--stall-s", type=float, default=240, help="give up after no progress")
    parser.add_argument("--max-s", type=float, default=1800, help=argparse.SUPPRESS)
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--file", default="", help=argparse.SUPPRESS)
    parser.add_argument("--money-seed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--claims-loadgen", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.money_seed:
        return money_seed_main(args)
    if args.claims_loadgen:
        return claims_loadgen_main(args)
    if args.loadgen:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.dev")
        return loadgen_main(args)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.dev")
    scenarios = args.scenario or list(SCENARIOS)
    sandbox_port, pay_port = free_port(), free_port()
    stack_env = {
        "PAYMENTS_API_BASE": f"http://127.0.0.1:{pay_port}/",
        "PAYMENTS_RATE_PER_MIN": str(PAY_RATE_PER_MIN),
        "PAYMENTS_SANDBOX_RATE_PER_MIN": str(PAY_RATE_PER_MIN),
        "PAYOUTS_DISPATCH_EVERY_S": "5",
        "PAYOUTS_RUN_S": "4",
        # A worker whose claims died with its database connection is taken over soon.
        "PAYOUTS_LEASE_S": "8",
        "PAYOUTS_RETRY_BASE_S": "1",
        "PAYOUTS_RETRY_MAX_S": "5",
        "WECOM_CORP_ID": CORP_ID,
        "WECOM_SECRET": "faults-secret",
        "WECOM_TOKEN": TOKEN,
        "WECOM_AES_KEY": AES_KEY,
        "WECOM_API_BASE": f"http://127.0.0.1:{sandbox_port}/cgi-bin/",
    }
    results: dict[str, dict] = {}
    with web_stack(env=stack_env) as stack:
        from scrm import devstack

        sandbox_proc = stack.spawn(
            "sandbox",
            [devstack.PYTHON, "manage.py", "wecom_sandbox", "--port", str(sandbox_port),
             "--callback-url", f"http://127.0.0.1:{stack.port}/wecom/callback/"],
        )  # fmt: skip
        pay_proc = stack.spawn(
            "payments-sandbox",
            [devstack.PYTHON, "manage.py", "payments_sandbox", "--port", str(pay_port),
             "--rate-per-min", str(PAY_RATE_PER_MIN)],
        )  # fmt: skip
        stack.extra["pay_base"] = f"http://127.0.0.1:{pay_port}/"
        beat = stack.spawn(
            "beat",
            [str(Path(devstack.PYTHON).parent / "celery"), "-A", "scrm", "beat", "-l", "WARNING",
             "--pidfile", ""],
        )  # fmt: skip
        try:
            wait_http(f"http://127.0.0.1:{sandbox_port}/sandbox/state")
            web_start(stack)
            sandbox = Sandbox(sandbox_port)
            sandbox.control("staff", users=[{"userid": u, "name": u} for u in STAFF])
            tag_ids = _corp_tags(sandbox)
            devstack._manage(
                stack.env, "shell", "-c",
                "from tagging.tasks import corp_tags_sync; corp_tags_sync()",
            )  # fmt: skip
            for name in scenarios:
                if name == "money_postgres_restart":
                    results[name] = _money_scenario(stack, args)
                elif name == "sop_worker_kill":
                    results[name] = _sop_scenario(args)
                else:
                    results[name] = _scenario(name, stack, sandbox, tag_ids, args)
        finally:
            stop(beat)
            stop(pay_proc)
            stop(sandbox_proc)
    summary = {
        **results,
        "lost": sum(r["lost"] for r in results.values()),
        "duplicated": sum(r["duplicated"] for r in results.values()),
    }
    print(json.dumps(summary), flush=True)
    return 0 if summary["lost"] == 0 and summary["duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
