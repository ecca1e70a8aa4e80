"""Benchmark: one SOP slot fanned out to 10,000 groups (D6).

Runs alone: ``.venv/bin/python bench/sop_fanout.py``. Starts the data services
(embedded unless DATABASE_URL/REDIS_URL are set), a throwaway database, the
WeCom sandbox over HTTP and real Celery workers. 10,000 groups belong to 200
owners; the corp-wide limit for ``add_msg_template`` is set to a known rate.

1. expand: the tick, the expansion into 10,000 deliveries and the grouping into
   one push per owner, timed in process (target < 10 s);
2. push: every push through a worker and the adapter's corp-wide limiter,
   timed against the floor the rate allows (pushes / rate; target ≤ 1.1×);
3. crash: a second slot, the worker killed with SIGKILL mid-run, a new worker
   and the sweeper finish the job; duplicates are groups that WeCom (the
   sandbox) was asked to send the same slot more than once (must be 0).

The last line is one JSON object: ``expand_s``, ``push_vs_floor``, ``duplicates``, and
``lost`` (groups the second slot never reached) with ``recovery_s`` for the fault suite.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import (  # noqa: E402
    BASE_DIR,
    bench_database,
    bench_reviewers,
    celery_worker,
    kill_session,
)

GROUPS = int(os.environ.get("BENCH_GROUPS", "10000"))
OWNERS = int(os.environ.get("BENCH_OWNERS", "200"))
RATE_PER_MIN = int(os.environ.get("BENCH_RATE_PER_MIN", "1200"))  # 20 mass messages/s
API = "externalcontact/add_msg_template"


def _say(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def _configure_environment() -> None:
    # The known rate, with no burst allowance, so the floor is pushes / rate.
    os.environ["WECOM_RATE_LIMITS"] = f"{API}={RATE_PER_MIN}"
    os.environ["WECOM_RATE_BURST"] = "1"
    # A crashed worker's claims are taken over after a few seconds, not minutes.
    os.environ["SOP_PUSH_UNCERTAIN_S"] = "3"
    os.environ["SOP_CLAIM_TIMEOUT_S"] = "3"
    os.environ["SOP_PUSH_SWEEP_AFTER_S"] = "5"


def _seed(sandbox) -> tuple[object, object]:
    """Owners, 10,000 groups (in WeCom and our registry), approved content, a pool."""

    from contacts.models import Staff
    from groups.models import CustomerGroup, GroupPool
    from scrm.content import services as content

    ops, reviewer = bench_reviewers()
    piece = content.content_create(actor=ops, title="周五大活动", text="本周五晚八点，群内抽奖！")
    content.content_submit(actor=ops, content_id=piece.pk)
    content.content_approve(actor=reviewer, content_id=piece.pk)

    owners = Staff.objects.bulk_create(
        [Staff(userid=f"owner{i:04d}", name=f"群主{i}") for i in range(OWNERS)]
    )
    sandbox.seed_users([{"userid": o.userid, "name": o.name} for o in owners])
    pool = GroupPool.objects.create(name="全国福利群", is_default=True)
    rows = []
    with sandbox.lock:
        for n in range(GROUPS):
            owner = owners[n % OWNERS]
            chat = sandbox.chat_create(owner=owner.userid, name=f"福利群{n}")
            rows.append(
                CustomerGroup(
                    chat_id=chat["chat_id"], name=f"福利群{n}", owner=owner,
                    owner_userid=owner.userid, pool=pool,
                )
            )  # fmt: skip
    CustomerGroup.objects.bulk_create(rows, batch_size=2000)
    return piece, pool


def _slot(piece, pool, *, minutes_ago: int):
    """A plan whose only slot fell due at the start of this minute."""
    from datetime import date, timedelta

    from django.utils import timezone

    from groups.sop import services
    from groups.sop.models import SopPlan

    now = timezone.localtime().replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    plan = SopPlan.objects.create(
        name=f"周历{minutes_ago}",
        start_date=date(2026, 1, 1),
        active_since=now - timedelta(hours=1),
    )
    plan.target_pools.add(pool)
    services.sop_slot_create(plan=plan, content_id=piece.pk, at=now.time())
    return plan, now


def _expand(plan, now) -> tuple[float, list[int]]:
    from datetime import timedelta

    from groups.sop import push, services
    from groups.sop.models import SopOccurrence

    started = time.perf_counter()
    ids = [
        i
        for i in services.sop_tick(now=now + timedelta(seconds=1))
        if SopOccurrence.objects.filter(pk=i, plan=plan).exists()
    ]
    push_ids: list[int] = []
    for occurrence_id in ids:
        services.sop_occurrence_expand(occurrence_id=occurrence_id, now=now)
        occurrence = SopOccurrence.objects.get(pk=occurrence_id)
        push_ids += push.sop_pushes_create(occurrence=occurrence)
    return time.perf_counter() - started, push_ids


def _wait_pushed(push_ids: list[int], timeout: float, *, sweep: bool = False) -> None:
    from groups.sop.models import SopPush
    from groups.sop.tasks import sop_push_sweep_task

    deadline = time.monotonic() + timeout
    next_sweep = time.monotonic()
    while time.monotonic() < deadline:
        left = SopPush.objects.filter(pk__in=push_ids).exclude(
            status=SopPush.Status.AWAITING_CONFIRM
        )
        if not left.exists():
            return
        if sweep and time.monotonic() >= next_sweep:
            sop_push_sweep_task.delay()
            next_sweep = time.monotonic() + 1.0
        time.sleep(0.05)
    raise RuntimeError(f"{left.count()} pushes still not in WeCom after {timeout}s")


def _duplicates(sandbox, msgids: set[str] | None = None) -> tuple[int, int]:
    with sandbox.lock:
        messages = [
            m for m in sandbox.state.msgs.values()
            if m["chat_type"] == "group" and (msgids is None or m["msgid"] in msgids)
        ]  # fmt: skip
    sends = Counter(c for m in messages for chats in m["targets"].values() for c in chats)
    return sum(n - 1 for n in sends.values()), len(sends)


def _run(env: dict[str, str], var: Path) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from groups.sop.models import SopPush
    from groups.sop.tasks import sop_push_task
    from scrm.celery import app
    from scrm.wecom.sandbox import SandboxConfig, SandboxServer

    call_command("migrate", verbosity=0)
    server = SandboxServer(SandboxConfig.from_settings()).start()
    settings.WECOM_API_BASE = server.api_base
    env = {**os.environ, **env, "WECOM_API_BASE": server.api_base, "PYTHONUNBUFFERED": "1"}
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    started = time.perf_counter()
    piece, pool = _seed(server.sandbox)
    _say(f"seeded {GROUPS} groups of {OWNERS} owners in {time.perf_counter() - started:.1f}s")

    # 1 + 2: expand, then push at the known rate.
    plan, now = _slot(piece, pool, minutes_ago=2)
    expand_s, push_ids = _expand(plan, now)
    _say(f"expand: {GROUPS} deliveries, {len(push_ids)} pushes in {expand_s:.2f}s")
    log = var / "bench-sop-worker.log"
    worker = celery_worker(env, log, concurrency=4, name="bench")
    try:
        started = time.perf_counter()
        for push_id in push_ids:
            sop_push_task.delay(push_id)
        _wait_pushed(push_ids, timeout=600)
        push_s = time.perf_counter() - started
    finally:
        kill_session(worker, signal.SIGTERM)
    floor = len(push_ids) / (RATE_PER_MIN / 60.0)
    _say(
        f"push: {len(push_ids)} mass messages in {push_s:.2f}s; floor at {RATE_PER_MIN}/min is {floor:.2f}s"
    )
    first_dupes, first_groups = _duplicates(server.sandbox)
    _say(f"sandbox: {first_groups} groups sent once, duplicates {first_dupes}")

    # 3: a second slot, the worker killed mid-run.
    plan, now = _slot(piece, pool, minutes_ago=1)
    _, push_ids = _expand(plan, now)
    worker = celery_worker(env, log, concurrency=4, name="bench")
    for push_id in push_ids:
        sop_push_task.delay(push_id)
    while (
        SopPush.objects.filter(pk__in=push_ids, status=SopPush.Status.AWAITING_CONFIRM).count()
        < len(push_ids) // 3
    ):
        time.sleep(0.05)
    kill_session(worker)
    in_flight = SopPush.objects.filter(pk__in=push_ids).exclude(
        status=SopPush.Status.AWAITING_CONFIRM
    )
    _say(f"killed the worker with {in_flight.count()} of {len(push_ids)} pushes unfinished")
    worker = celery_worker(env, log, concurrency=4, name="bench")
    try:
        recovery = time.perf_counter()
        _wait_pushed(push_ids, timeout=600, sweep=True)
        recovery_s = time.perf_counter() - recovery
        _say(f"recovered by a new worker and the sweeper in {recovery_s:.1f}s")
    finally:
        kill_session(worker, signal.SIGTERM)
    msgids = set(SopPush.objects.filter(pk__in=push_ids).values_list("msgid", flat=True))
    crash_dupes, crash_groups = _duplicates(server.sandbox)
    _, second_groups = _duplicates(server.sandbox, msgids)
    duplicates = crash_dupes - first_groups  # each group legitimately gets both slots once
    _say(
        f"sandbox after the crash: {second_groups} groups got the second slot, duplicates {duplicates}"
    )
    calls = [c for c in server.sandbox.state.calls if c["endpoint"] == API]
    per_second = Counter(int(c["at"]) for c in calls)
    _say(f"{len(calls)} {API} calls; busiest second saw {max(per_second.values())}")
    server.stop()
    return {
        "groups": GROUPS,
        "pushes": len(push_ids),
        "expand_s": round(expand_s, 2),
        "push_s": round(push_s, 2),
        "floor_s": round(floor, 2),
        "push_vs_floor": round(push_s / floor, 3),
        "duplicates": duplicates,
        # Groups the second slot never reached, and how long the new worker took.
        "lost": GROUPS - second_groups,
        "recovery_s": round(recovery_s, 1),
    }


def main() -> int:
    _configure_environment()
    with bench_database("scrm_bench_sop") as env:
        var = Path(os.environ.get("SCRM_VAR_DIR", BASE_DIR / "var"))
        var.mkdir(parents=True, exist_ok=True)
        result = _run(env, var)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
