"""Callback ingest benchmark: 20,000 encrypted WeCom callbacks at concurrency 32.

Starts what ``make run`` starts for the web tier (embedded PostgreSQL/Redis via
``scrm.devstack.Services``, migrate, gunicorn with devstack's exact arguments)
plus a Celery worker (in one session, as ``make run`` does), on free ports and a
private var dir; drives the webhook from a load-generator process in a session of
its own, as a separate client would be (127.0.0.1 only; 32 connections fed from
one queue of callbacks), compares it with a trivial ``success`` view on the same
server (run before the callbacks and again once the worker has drained them: a
shared machine's speed drifts, so the ratio is to the mean of the two), checks
that every event is in the inbox exactly once and processed, and how long the
worker took to finish after the load ended. Each phase also reports the CPU
time per request of the web processes, PostgreSQL, the worker and the rest of
the machine, which says where a callback's cost goes. Stops
everything it started.

    .venv/bin/python bench/callback_ingest.py [--events 20000] [--concurrency 32]

Last line: one JSON object (events_per_s, ratio_vs_trivial, p50_ms, p99_ms, lost, duplicated).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid

from _load import CpuMeter, drive, web_stack, web_start  # noqa: E402
from _support import db_connect  # noqa: E402

CORP_ID, TOKEN, AES_KEY = (
    "ww_bench_corp",
    "benchToken",
    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
)


# --------------------------------------------------------------------------- load generator


def _payloads(run: str, n: int, prefix: str = "wmB") -> list[tuple[str, bytes]]:
    from urllib.parse import urlencode

    from scrm.wecom.crypto import Keys, encrypt_event, event_xml

    keys = Keys(TOKEN, AES_KEY, CORP_ID)
    now = str(int(time.time()))
    out = []
    for i in range(n):
        fields = {
            "ToUserName": CORP_ID,
            "FromUserName": "sys",
            "CreateTime": now,
            "MsgType": "event",
            "Event": "change_external_contact",
            "ChangeType": "del_follow_user",
            "UserID": "bench-staff",
            "ExternalUserID": f"{prefix}{run}{i:06d}",
        }
        query, body = encrypt_event(keys, event_xml(fields), nonce=f"{prefix}{run}{i}")
        out.append((f"/wecom/callback/?{urlencode(query)}", body))
    return out


def _posts(items: list[tuple[str, bytes]]) -> list[tuple]:
    return [("POST", path, {"Content-Type": "text/xml"}, body) for path, body in items]


def loadgen_main(args: argparse.Namespace) -> int:
    """Runs in its own process so the generator never shares a GIL with the server.

    ``--phase main``: warm-up, the trivial view, then the callbacks; ``--phase
    trivial``: the trivial view again (after the worker has drained the inbox).
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.dev")
    meter = CpuMeter(web=args.web_pid, worker=args.worker_pid, postgres=args.postmaster)
    events = _posts(_payloads(args.run, args.events))
    trivial = [(m, "/wecom/ping-trivial/", h, body) for m, _path, h, body in events[: args.trivial]]
    if args.phase == "trivial":
        result = {"trivial": drive(args.port, trivial, args.concurrency, meter)}
        print(json.dumps(result), flush=True)
        return 0
    warm = _posts(_payloads(args.run, 300, prefix="wmW"))
    drive(args.port, warm, args.concurrency)
    drive(args.port, trivial[:300], args.concurrency)
    result = {
        "trivial": drive(args.port, trivial, args.concurrency, meter),
        "callback": drive(args.port, events, args.concurrency, meter),
    }
    print(json.dumps(result), flush=True)
    return 0


# --------------------------------------------------------------------------- orchestration


def _inbox_counts(database_url: str, run: str) -> tuple[int, int, int]:
    """(rows, distinct events, processed rows) of this run in the inbox."""
    conn = db_connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*), count(DISTINCT payload->>'ExternalUserID'),"
                " count(*) FILTER (WHERE status = 'done')"
                " FROM wecom_inboxevent WHERE payload->>'ExternalUserID' LIKE %s",
                [f"wmB{run}%"],
            )
            return cur.fetchone()
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--trivial", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--web-workers", type=int, default=0, help="default: as make run")
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--run", default="", help=argparse.SUPPRESS)
    parser.add_argument("--web-pid", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--worker-pid", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--postmaster", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loadgen:
        return loadgen_main(args)

    stack_env = {"WECOM_CORP_ID": CORP_ID, "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY}
    with web_stack(env=stack_env, web_workers=args.web_workers) as stack:
        web_start(stack, worker=not os.environ.get("NOWORKER"))
        env, worker = stack.env, stack.worker
        run = uuid.uuid4().hex[:8]
        print(
            f"[bench] web on 127.0.0.1:{stack.port} ({stack.web_workers} gunicorn workers);"
            f" run {run}",
            flush=True,
        )

        def loadgen(phase: str) -> dict:
            return stack.loadgen(
                __file__,
                "--phase", phase, "--run", run, "--events", str(args.events),
                "--trivial", str(args.trivial), "--concurrency", str(args.concurrency),
                "--web-pid", str(stack.web.pid), "--worker-pid", str(worker.pid if worker else 0),
                "--postmaster", str(stack.postmaster),
            )  # fmt: skip

        result = loadgen("main")
        trivial, callback = result["trivial"], result["callback"]
        print(f"[bench] trivial view : {trivial}", flush=True)
        print(f"[bench] webhook      : {callback}", flush=True)
        # Wait for the worker to drain the inbox; give up after a minute without progress.
        load_ended = time.monotonic()
        rows, distinct, done_at_end = _inbox_counts(env["DATABASE_URL"], run)
        last, stalled_since, done = -1, time.monotonic(), done_at_end
        while done < args.events:
            if done != last:
                last, stalled_since = done, time.monotonic()
            elif time.monotonic() - stalled_since > 60:
                break
            time.sleep(1)
            rows, distinct, done = _inbox_counts(env["DATABASE_URL"], run)
        print(
            f"[bench] inbox: {rows} rows, {distinct} distinct events, {done} processed"
            f" ({done_at_end} when the load ended, the rest in"
            f" {time.monotonic() - load_ended:.1f}s after)",
            flush=True,
        )
        # The trivial view once more, with the worker idle again: a shared
        # machine's speed drifts, so the baseline is the mean of before and after.
        trivial_after = loadgen("trivial")["trivial"]
        print(f"[bench] trivial again: {trivial_after}", flush=True)
        baseline = (trivial["per_s"] + trivial_after["per_s"]) / 2
        summary = {
            "events_per_s": callback["per_s"],
            "ratio_vs_trivial": round(callback["per_s"] / baseline, 3),
            "p50_ms": callback["p50_ms"],
            "p99_ms": callback["p99_ms"],
            "lost": args.events - min(distinct, done),
            "duplicated": rows - distinct,
        }
        print(json.dumps(summary), flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
