"""Benchmark: 100,000 due ledger entries paid through the payment sandbox at its rate limit,
with the Celery worker killed (SIGKILL) once mid-run.

Runs alone: ``.venv/bin/python bench/payouts.py``. Starts the data services (embedded
unless DATABASE_URL/REDIS_URL are set), a throwaway database, the payment sandbox over
HTTP (its calls-per-minute limit set to ``BENCH_RATE_PER_MIN``, the app's pacer to the
same) and a real Celery worker (2 processes, as ``make run``). The entries are one
5-yuan red packet each for 100,000 customers whose payment openid is already known (as
after their first payout; WeCom's convert_to_openid is not what is measured), written
in bulk exactly as ``payout_schedule`` writes them, all due today.

The bench plays celery beat: every ``PAYOUTS_DISPATCH_EVERY_S`` it sends the beat's
``payouts.pay_due`` task (with the beat entry's expiry). When half the entries are
paid it kills the worker with SIGKILL and starts a new one; the entries the dead
worker had claimed are taken over when their lease runs out, the channel is asked
about them first, and they are sent again under the same bill number.

Figures: the time from the first task to the last entry paid, against the floor the
rate allows (entries / rate); ``double_paid`` counts customers the sandbox paid more
than once plus bills paid in the sandbox that the ledger does not show as paid (both
must be 0).

    .venv/bin/python bench/payouts.py        # BENCH_PAYOUTS=100000 BENCH_RATE_PER_MIN=18000

Last line: one JSON object (``paid``, ``double_paid``, ``payout_vs_floor``, and more).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import (  # noqa: E402
    BASE_DIR,
    bench_database,
    bench_reviewers,
    celery_worker,
    due_red_packets_insert,
    kill_session,
)

PAYOUTS = int(os.environ.get("BENCH_PAYOUTS", "100000"))
RATE_PER_MIN = int(os.environ.get("BENCH_RATE_PER_MIN", "18000"))
EVERY_S = 2.0


def _say(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def _configure_environment() -> None:
    os.environ["PAYMENTS_RATE_PER_MIN"] = str(RATE_PER_MIN)
    os.environ["PAYMENTS_SANDBOX_RATE_PER_MIN"] = str(RATE_PER_MIN)
    os.environ["PAYOUTS_DISPATCH_EVERY_S"] = str(EVERY_S)
    os.environ["PAYOUTS_RUN_S"] = "30"
    os.environ["PAYOUTS_BATCH"] = os.environ.get("PAYOUTS_BATCH", "200")
    os.environ["PAYOUTS_THREADS"] = os.environ.get("PAYOUTS_THREADS", "12")
    # A killed worker's claims are taken over after seconds, not a minute.
    os.environ["PAYOUTS_LEASE_S"] = "8"
    os.environ["PAYOUTS_RETRY_BASE_S"] = "1"
    os.environ["PAYOUTS_RETRY_MAX_S"] = "5"


def _seed() -> int:
    """A live red-packet campaign (through the services), 100,000 customers with known
    openids, and one due 5-yuan entry each (bulk, as payout_schedule writes them)."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from campaigns.payouts.red_packets import red_packet_configure
    from campaigns.services import lifecycle

    ops, reviewer = bench_reviewers()
    now = timezone.now()
    campaign = lifecycle.campaign_create(
        actor=ops,
        data={
            "name": "入群红包（压测）", "kind": "red_packet", "title": "入群领5元红包",
            "starts_at": now - timedelta(days=10), "ends_at": now + timedelta(days=30),
            "budget_fen": PAYOUTS * 500,
        },
    )  # fmt: skip
    red_packet_configure(
        actor=ops, campaign_id=campaign.pk, amount_fen=500, delay_workdays=5, conditions=[]
    )
    lifecycle.campaign_submit(actor=ops, campaign_id=campaign.pk)
    lifecycle.campaign_approve(actor=reviewer, campaign_id=campaign.pk)
    lifecycle.campaign_go_live(actor=ops, campaign_id=campaign.pk)
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO contacts_customer (external_userid, name, avatar, type, gender, unionid,
                corp_name, corp_full_name, status, ring, first_state, verify_method,
                marketing_opt_out, created_at, updated_at)
            SELECT 'wmBENCH' || lpad(i::text, 8, '0'), '', '', 1, 0, '', '', '', 'active',
                'unknown', '', '', false, now(), now()
            FROM generate_series(1, %s) AS i
            """,
            [PAYOUTS],
        )
        cur.execute(
            """
            INSERT INTO payments_paymentopenid (external_userid, openid, fetched_at)
            SELECT external_userid, 'oSbx' || md5(external_userid), now()
            FROM contacts_customer WHERE external_userid LIKE 'wmBENCH%%'
            """
        )
        due_red_packets_insert(
            cur,
            campaign_id=campaign.pk,
            customers="FROM contacts_customer c WHERE c.external_userid LIKE 'wmBENCH%%'",
        )
        cur.execute("ANALYZE payouts_payout")
    return campaign.pk


def _run(env: dict[str, str], var: Path) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from campaigns.payouts.models import Payout
    from campaigns.payouts.tasks import pay_due
    from scrm.celery import app
    from scrm.payments.sandbox import PaymentSandboxConfig, PaymentSandboxServer

    call_command("migrate", verbosity=0)
    server = PaymentSandboxServer(PaymentSandboxConfig.from_settings()).start()
    settings.PAYMENTS_API_BASE = server.base_url
    env = {**os.environ, **env, "PAYMENTS_API_BASE": server.base_url, "PYTHONUNBUFFERED": "1"}
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    started = time.perf_counter()
    campaign_id = _seed()
    _say(f"seeded {PAYOUTS} due entries in {time.perf_counter() - started:.1f}s")

    log = var / "bench-payouts-worker.log"
    worker = celery_worker(env, log, concurrency=2, name="bench-pay")
    paid_q = Payout.objects.filter(campaign_id=campaign_id, status=Payout.Status.PAID)
    open_q = Payout.objects.filter(
        campaign_id=campaign_id, status__in=["scheduled", "sending", "failed"]
    )
    killed_at = None
    restart_s = 0.0
    last_tick = 0.0
    t0 = time.perf_counter()
    last_report = t0
    try:
        while True:
            now = time.perf_counter()
            if now - last_tick >= EVERY_S:  # what celery beat does for the beat entry
                pay_due.apply_async(expires=max(1.0, EVERY_S * 0.8))
                last_tick = now
            paid = paid_q.count()
            if killed_at is None and paid >= PAYOUTS // 2:
                sending = Payout.objects.filter(campaign_id=campaign_id, status="sending").count()
                kill_session(worker)
                killed_at = time.perf_counter() - t0
                _say(
                    f"SIGKILL to the worker at {killed_at:.1f}s: {paid} paid, {sending} claimed mid-send"
                )
                before = time.perf_counter()
                worker = celery_worker(env, log, concurrency=2, name="bench-pay")
                restart_s = time.perf_counter() - before
                _say(f"a new worker answered after {restart_s:.1f}s")
            if not open_q.exists():
                break
            if now - last_report > 15:
                _say(f"{paid} paid after {now - t0:.0f}s")
                last_report = now
            if now - t0 > 3600:
                raise RuntimeError("payouts did not finish within an hour")
            time.sleep(0.2)
        elapsed = time.perf_counter() - t0
    finally:
        kill_session(worker, signal.SIGTERM)
    floor = PAYOUTS / (RATE_PER_MIN / 60.0)
    sb = server.sandbox
    with sb.lock:
        bills = dict(sb.state.bills)
        calls = dict(sb.state.calls)
    per_openid: dict[str, int] = {}
    for bill in bills.values():
        per_openid[bill["openid"]] = per_openid.get(bill["openid"], 0) + 1
    extra = sum(n - 1 for n in per_openid.values() if n > 1)
    ledger_paid = set(paid_q.values_list("bill_no", flat=True))
    unrecorded = len(set(bills) - ledger_paid)  # paid by the channel, not paid in the ledger
    missing = len(ledger_paid - set(bills))  # "paid" in the ledger, never paid by the channel
    statuses = dict(
        Payout.objects.filter(campaign_id=campaign_id)
        .values_list("status")
        .annotate(n=django.db.models.Count("id"))
        .values_list("status", "n")
    )
    _say(f"ledger: {statuses}")
    _say(f"sandbox calls: {calls}")
    _say(
        f"paid {len(ledger_paid)} in {elapsed:.1f}s; floor at {RATE_PER_MIN}/min is {floor:.1f}s "
        f"({elapsed / floor:.3f}x); worker killed at {killed_at:.1f}s, back after {restart_s:.1f}s"
    )
    _say(f"sandbox: {len(bills)} bills paid, {extra} extra payments to a customer, "
         f"{unrecorded} paid but not recorded, {missing} recorded but not paid")  # fmt: skip
    server.stop()
    return {
        "payouts": PAYOUTS,
        "rate_per_min": RATE_PER_MIN,
        "paid": len(ledger_paid),
        "double_paid": extra + unrecorded,
        "missing": missing,
        "elapsed_s": round(elapsed, 1),
        "floor_s": round(floor, 1),
        "payout_vs_floor": round(elapsed / floor, 3),
        "killed_at_s": round(killed_at or 0, 1),
        "repeats_answered": sum(b["repeats"] for b in bills.values()),
        "freq_limited": calls.get(("send", "FREQ_LIMIT"), 0),
        "queries": sum(v for (e, _o), v in calls.items() if e == "query"),
    }


def main() -> int:
    _configure_environment()
    with bench_database("scrm_bench_payouts") as env:
        var = Path(os.environ.get("SCRM_VAR_DIR", BASE_DIR / "var"))
        var.mkdir(parents=True, exist_ok=True)
        result = _run(env, var)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
