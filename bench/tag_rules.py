"""Tag rules benchmark: behaviour events through the events API, evaluated by the rules.

Starts what ``make run`` starts (embedded PostgreSQL/Redis, migrate, gunicorn with
devstack's arguments, the Celery worker as devstack starts it) on free ports and a
private var dir; seeds 200,000 customers (one ``COPY``), a bank-systems account with
an API token, and 50 enabled tag rules over the bank's seeded event types (property
filters on ``category``, 1 to 3 events in 7 to 30 days; half add a tag, half add
points to an interest, some both). Then, from a load-generator process of its own,
1,000,000 events go to ``POST /api/events/`` in batches of 1,000 over concurrent
connections, and one batch in a hundred is sent a second time (a retry: its events
must come back as duplicates and change nothing).

End to end is from the first request to the last batch evaluated by the worker
(``EventBatch.processed_at``: the rules ran and their tags, explanations and points
are written in that transaction). Rule lag is each batch's ``processed_at`` minus
its ``created_at``. Afterwards the same events are loaded with a raw ``COPY`` into an
unindexed table of the same columns, in the same run on the same server, as the
floor of what storing them costs.

    .venv/bin/python bench/tag_rules.py [--events 1000000] [--customers 200000]
        [--rules 50] [--batch 1000] [--concurrency N]

Last line: one JSON object (events_per_s, ratio_vs_copy, lag_p99_s, lost, duplicated,
cpu_us_per_event: the CPU microseconds per event of the web processes, PostgreSQL and
the worker, and of the rest of the machine meanwhile, and more).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _load import BASE_DIR, drive_threads, web_stack, web_start  # noqa: E402
from _support import db_connect, percentile  # noqa: E402

TYPES = [
    "product_viewed",
    "fund_purchased",
    "insurance_purchased",
    "card_applied",
    "loan_applied",
    "deposit_made",
    "app_login",
]
CATEGORIES = ["基金", "保险", "贷款", "信用卡", "存款", "理财"]
INTERESTS = ["funds", "insurance", "loans", "cards", "deposits"]
DUPLICATE_EVERY = 100  # one batch in a hundred is sent again


def external_userid(i: int) -> str:
    return f"wmTR{i:07d}"


def events(n: int, customers: int, *, now: datetime, seed: int = 19):
    """The benchmark's events, the same for the load generator and the COPY baseline:
    (event_id, customer index, type, properties, occurred_at)."""
    rng = random.Random(seed)
    for i in range(n):
        kind = TYPES[rng.randrange(len(TYPES))]
        props = {"category": CATEGORIES[rng.randrange(len(CATEGORIES))], "product": f"P{i % 997}"}
        at = now - timedelta(seconds=rng.randrange(30 * 86400))
        yield f"ev-{i:08d}", rng.randrange(customers), kind, props, at


def rule_specs(count: int) -> list[dict]:
    rng = random.Random(5)
    specs = []
    for i in range(count):
        kind = TYPES[i % len(TYPES)]
        spec = {
            "name": f"bench-rule-{i:02d}",
            "event_type": kind,
            "property_filter": {} if i % 5 == 4 else {"category": CATEGORIES[i % len(CATEGORIES)]},
            "min_count": 1 + i % 3,
            "window_days": (7, 14, 30)[i % 3],
            "tag": i % 2 == 0 or i % 7 == 0,
            "interest": INTERESTS[i % len(INTERESTS)] if i % 2 == 1 else "",
            "points": float(rng.randrange(5, 25)) if i % 2 == 1 else 0.0,
            "stale_days": 60 if i % 4 == 0 else None,
        }
        specs.append(spec)
    return specs


# --------------------------------------------------------------------------- seeding


def seed_main(args: argparse.Namespace) -> int:
    """In a child with the stack's environment: customers in one COPY, the token, rules."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.dev")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.db import connection
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from contacts.models import Customer
    from scrm.core.role_names import Role
    from tagging.intent.models import Interest
    from tagging.intent.services import level_tags
    from tagging.models import Tag, TagGroup
    from tagging.rules.models import TagRule
    from tagging.rules.services import tag_rule_save

    users = get_user_model()
    ops = users.objects.create(username="bench-ops", is_staff=True)
    ops.groups.add(Group.objects.get(name=Role.OPS_STAFF))
    bank = users.objects.create(username="bench-bank-systems")
    bank.user_permissions.add(Permission.objects.get(codename="send_events"))
    token = Token.objects.create(user=bank)

    # One COPY for the customers: every column as the model would write it.
    template = Customer(external_userid="x", name="x", first_added_at=timezone.now())
    fields = [f for f in Customer._meta.concrete_fields if not f.primary_key]
    values = {}
    for f in fields:
        value = f.get_db_prep_save(f.pre_save(template, add=True), connection)
        values[f.column] = value
    columns = [f.column for f in fields]

    def cell(value) -> str:
        if value is None:
            return "\\N"
        if isinstance(value, bool):
            return "t" if value else "f"
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")

    buf = io.StringIO()
    for i in range(args.customers):
        row = dict(values, external_userid=external_userid(i), name=f"客户{i}")
        buf.write("\t".join(cell(row[c]) for c in columns) + "\n")
    buf.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY contacts_customer ({', '.join(columns)}) FROM STDIN", buf)
        cursor.execute("ANALYZE contacts_customer")

    # The tags are in WeCom already (ids as the tag sync would have stored them); the
    # customers follow no one here, so a push has no relation to mark.
    group = TagGroup.objects.create(name="行为标签", wecom_id="bench-group")
    interests = {i.code: i for i in Interest.objects.all()}
    for tag in level_tags(list(interests.values())).values():
        Tag.objects.filter(pk=tag.pk).update(wecom_id=f"bench-level-{tag.pk}")
    for spec in rule_specs(args.rules):
        tag = None
        if spec["tag"]:
            tag = Tag.objects.create(
                group=group, name=spec["name"][-14:], wecom_id=f"bench-{spec['name']}"
            )
        rule = TagRule(
            name=spec["name"],
            enabled=True,
            event_type=spec["event_type"],
            property_filter=spec["property_filter"],
            min_count=spec["min_count"],
            window_days=spec["window_days"],
            tag=tag,
            interest=interests.get(spec["interest"]),
            points=spec["points"] if spec["interest"] else 0.0,
            stale_days=spec["stale_days"] if tag else None,
        )
        tag_rule_save(rule=rule, user=ops)  # switched on: a back-fill over no events
    Path(args.out).write_text(json.dumps({"token": token.key}))
    return 0


# --------------------------------------------------------------------------- load


def _requests(args, token: str, now: datetime) -> tuple[list[tuple], int]:
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    out: list[tuple] = []
    batch: list[dict] = []
    sent_unique = 0

    def flush():
        body = json.dumps({"events": batch}, ensure_ascii=False).encode()
        out.append(("POST", "/api/events/", headers, body))
        if len(out) % DUPLICATE_EVERY == 0:
            out.append(("POST", "/api/events/", headers, body))  # a retried batch

    for event_id, who, kind, props, at in events(args.events, args.customers, now=now):
        batch.append(
            {
                "event_id": event_id,
                "customer": {"external_userid": external_userid(who)},
                "type": kind,
                "properties": props,
                "occurred_at": at.isoformat(),
            }
        )
        sent_unique += 1
        if len(batch) == args.batch:
            flush()
            batch = []
    if batch:
        flush()
    return out, sent_unique


def loadgen_main(args: argparse.Namespace) -> int:
    seed = json.loads(Path(args.seed_file).read_text())
    now = datetime.fromisoformat(args.now)
    queue, _sent = _requests(args, seed["token"], now)
    # Warm-up: every web process once, with batches of repeats (all duplicates).
    drive_threads(args.port, queue[:1] * args.concurrency * 2, args.concurrency)
    started = time.time()
    result = drive_threads(args.port, queue[1:], args.concurrency, keep_bodies=True)
    bodies = result.pop("bodies")
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for status, data in bodies:
        if status == 202:
            body = json.loads(data)
            for k in totals:
                totals[k] += body[k]
    result.update(totals)
    result["started_at"] = started
    print(json.dumps(result), flush=True)
    return 0


# --------------------------------------------------------------------------- measuring


def _wait_processed(url: str, expected: int, timeout: float) -> dict:
    """Poll until every event is in the table and every batch was evaluated."""
    conn = db_connect(url)
    conn.autocommit = True
    deadline = time.monotonic() + timeout
    try:
        with conn.cursor() as cur:
            while True:
                cur.execute(
                    "SELECT count(*) FILTER (WHERE processed_at IS NULL), count(*),"
                    " extract(epoch FROM max(processed_at)) FROM behaviour_eventbatch"
                )
                pending, batches, last = cur.fetchone()
                cur.execute("SELECT count(*) FROM behaviour_event WHERE source = 'api'")
                stored = cur.fetchone()[0]
                if (pending == 0 and stored >= expected) or time.monotonic() > deadline:
                    return {
                        "pending": pending,
                        "batches": batches,
                        "last_processed": float(last or 0),
                        "stored": stored,
                    }
                time.sleep(0.5)
    finally:
        conn.close()


def _figures(url: str) -> dict:
    conn = db_connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT extract(epoch FROM processed_at - created_at) FROM behaviour_eventbatch"
                " WHERE processed_at IS NOT NULL ORDER BY 1"
            )
            lags = [float(r[0]) for r in cur.fetchall()]
            cur.execute("SELECT count(*) - count(DISTINCT (source, event_id)) FROM behaviour_event")
            duplicated = cur.fetchone()[0]
            cur.execute("SELECT count(*) - count(DISTINCT source_key) FROM intent_contribution")
            duplicated += cur.fetchone()[0]
            cur.execute(
                "SELECT (SELECT count(*) FROM tagging_customertag WHERE source = 'rule'),"
                " (SELECT count(*) FROM tag_rules_rulefiring),"
                " (SELECT count(*) FROM intent_contribution),"
                " (SELECT count(*) FROM intent_score),"
                " (SELECT count(*) FROM intent_score WHERE level <> '')"
            )
            tags, firings, contributions, scores, levelled = cur.fetchone()
    finally:
        conn.close()
    return {
        "lag_p50_s": round(percentile(lags, 0.50), 3),
        "lag_p99_s": round(percentile(lags, 0.99), 3),
        "duplicated": duplicated,
        "rule_tags": tags,
        "firings": firings,
        "contributions": contributions,
        "scores": scores,
        "scores_with_level": levelled,
    }


def _copy_baseline(url: str, args, now: datetime) -> dict:
    """The same events, COPY'd into an unindexed table of behaviour_event's columns."""
    buf = io.StringIO()
    received = now.isoformat()
    for event_id, who, kind, props, at in events(args.events, args.customers, now=now):
        payload = json.dumps(props, ensure_ascii=False).replace("\\", "\\\\")
        buf.write(
            f"api\t{event_id}\t{who + 1}\t\\N\t{kind}\t{payload}\t{at.isoformat()}\t{received}\n"
        )
    conn = db_connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE bench_event_copy (id bigserial, source varchar(16),"
                " event_id varchar(64), customer_id bigint, bank_record_id bigint,"
                " type varchar(48), properties jsonb, occurred_at timestamptz,"
                " received_at timestamptz)"
            )
            conn.commit()
            buf.seek(0)
            started = time.perf_counter()
            cur.copy_expert(
                "COPY bench_event_copy (source, event_id, customer_id, bank_record_id, type,"
                " properties, occurred_at, received_at) FROM STDIN",
                buf,
            )
            conn.commit()
            seconds = time.perf_counter() - started
            cur.execute("SELECT count(*) FROM bench_event_copy")
            rows = cur.fetchone()[0]
            cur.execute("DROP TABLE bench_event_copy")
            conn.commit()
    finally:
        conn.close()
    return {"rows": rows, "seconds": round(seconds, 3), "per_s": round(rows / seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--concurrency", type=int, default=0, help="connections (default: two per web worker)"
    )
    parser.add_argument("--web-workers", type=int, default=0, help="default: as make run")
    parser.add_argument("--timeout", type=float, default=3600.0)
    for hidden in ("--seed", "--loadgen"):
        parser.add_argument(hidden, action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--seed-file", "--out", "--now"):
        parser.add_argument(hidden, default="", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        return seed_main(args)
    if args.loadgen:
        return loadgen_main(args)

    now = datetime.now(UTC).replace(microsecond=0)
    with web_stack(web_workers=args.web_workers) as stack:
        args.concurrency = args.concurrency or 2 * stack.web_workers
        print(f"[bench] seeding {args.customers} customers and {args.rules} rules", flush=True)
        seed_file = stack.var / "seed.json"
        subprocess.run(  # noqa: S603
            [sys.executable, __file__, "--seed", "--out", str(seed_file),
             "--customers", str(args.customers), "--rules", str(args.rules)],
            cwd=BASE_DIR, env=stack.env, check=True,
        )  # fmt: skip
        web_start(stack)
        print(
            f"[bench] web on 127.0.0.1:{stack.port} ({stack.web_workers} gunicorn workers),"
            f" one Celery worker as make run starts it; {args.events} events in batches of"
            f" {args.batch} over {args.concurrency} connections",
            flush=True,
        )
        url = stack.env["DATABASE_URL"]
        meter = stack.meter()
        cpu_before = meter.snapshot()
        sent = stack.loadgen(
            __file__,
            "--seed-file", str(seed_file), "--now", now.isoformat(),
            "--events", str(args.events), "--customers", str(args.customers),
            "--batch", str(args.batch), "--concurrency", str(args.concurrency),
        )  # fmt: skip
        print(f"[bench] posted      : {sent}", flush=True)
        done = _wait_processed(url, args.events, args.timeout)
        # CPU time per event of each part, from the first request to the last batch
        # evaluated (steadier than the rate on a shared machine; "rest" includes the
        # load generator and other work on the machine).
        cpu_us = {
            k: round(v * 1000, 1)
            for k, v in meter.per_request(cpu_before, meter.snapshot(), args.events).items()
        }
        print(f"[bench] CPU per event (µs): {cpu_us}", flush=True)
        elapsed = max(done["last_processed"] - sent["started_at"], sent["seconds"])
        figures = _figures(url)
        print(f"[bench] evaluated   : {done} in {elapsed:.1f} s from the first request", flush=True)
        print(f"[bench] written     : {figures}", flush=True)
        copy = _copy_baseline(url, args, now)
        print(f"[bench] raw COPY    : {copy}", flush=True)
        events_per_s = round(done["stored"] / elapsed, 1) if elapsed > 0 else 0.0
        summary = {
            "events_per_s": events_per_s,
            "ratio_vs_copy": round(events_per_s / copy["per_s"], 4),
            "lag_p99_s": figures["lag_p99_s"],
            "lag_p50_s": figures["lag_p50_s"],
            "lost": args.events - done["stored"],
            "duplicated": figures["duplicated"],
            "api_accepted": sent["accepted"],
            "api_duplicate": sent["duplicate"],
            "api_rejected": sent["rejected"],
            "api_p99_ms": sent["p99_ms"],
            "pending_batches": done["pending"],
            "copy_per_s": copy["per_s"],
            "cpu_us_per_event": cpu_us,
            "rule_tags": figures["rule_tags"],
            "contributions": figures["contributions"],
            "events": args.events,
            "customers": args.customers,
            "rules": args.rules,
        }
        print(json.dumps(summary), flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
