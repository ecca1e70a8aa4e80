"""Lottery draws benchmark: 20,000 draws over real HTTP against one live lottery whose
budget runs out under load, against a trivial view in the same run.

Starts what ``make run`` starts for the web tier (embedded PostgreSQL/Redis via
``scrm.devstack.Services``, migrate, gunicorn with devstack's exact arguments) on free
ports and a private var dir; seeds, through the services (drafted by ops, approved by
compliance, live), a lottery with a 1-yuan red packet, a 5-yuan coupon, a gift and
"thanks for taking part", a budget that covers about a third of the draws' expected
cost, and 10,000 customers who may draw twice each (a personal draw link each); then,
from a load-generator process of its own (wrk when installed, else Python threads; two
connections per web worker fed from one queue, as bench/coupon_claims.py):

1. a trivial view (``/wecom/ping-trivial/``) on the same server,
2. 20,000 draws (the customers' H5 draw endpoint, as JSON), both draws of a customer
   far apart, so that the budget runs out while draws are racing for it,
3. the trivial view again (the machine's speed drifts; the ratio is to the mean).

It then checks the database: the budget used never past the cap (``budget_overrun_fen``,
from the campaign's counter and from the draws' own costs), no prize's stock below zero
or out of step with its draws, the coupon template's stock in step with its coupons, one
payout per red packet drawn (``stock_overdraw`` counts every unit out of step). Stops
everything it started.

    .venv/bin/python bench/lottery.py [--draws 20000] [--concurrency N]

Last line: one JSON object (draws_per_s, ratio_vs_trivial, budget_overrun_fen,
stock_overdraw, and more).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from _load import BASE_DIR, drive, web_stack, web_start  # noqa: E402
from _support import bench_reviewers, db_connect  # noqa: E402

DRAWS_PER_CUSTOMER = 2
WARM_DRAWS = 300
FORM = "application/x-www-form-urlencoded"
CAMPAIGN = "bench-lottery"


# --------------------------------------------------------------------------- seeding


def seed_main(args: argparse.Namespace) -> int:
    """Runs in a child with the server's environment: the lottery through the services,
    customers in bulk, their draw links."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.dev")
    django.setup()
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.links import claim_token_make
    from campaigns.lottery.services import prizes
    from campaigns.services import lifecycle
    from contacts.models import Customer

    ops, compliance = bench_reviewers()
    now = timezone.now()

    def live_lottery(name: str, *, draws: int, budget_fen: int):
        campaign = prizes.lottery_create(
            actor=ops,
            data={
                "name": name,
                "title": "周五幸运大抽奖",
                "rules_text": "每位客户可抽两次，奖品抽完即止",
                "starts_at": now - timedelta(hours=1),
                "ends_at": now + timedelta(days=7),
                "budget_fen": budget_fen,
                "verified_only": False,
                # Every draw comes from 127.0.0.1 here: no per-IP velocity limit.
                "velocity_ip_per_hour": None,
                "velocity_phone_per_hour": None,
            },
            lottery={"draws_per_customer": DRAWS_PER_CUSTOMER, "draws_per_day": None},
        )
        template = lifecycle.template_create(
            actor=ops,
            campaign_id=campaign.pk,
            data={
                "title": "5元立减券",
                "kind": "amount_off",
                "face_value_fen": 500,
                "validity": "relative",
                "valid_days": 7,
                "total_stock": draws,
            },
        )
        table = [
            {"name": "1元红包", "kind": "red_packet", "weight": 20, "amount_fen": 100},
            {"name": "5元立减券", "kind": "coupon", "weight": 10, "coupon_template": template},
            {"name": "定制保温杯", "kind": "gift", "weight": 1, "gift_cost_fen": 2000},
            {"name": "谢谢参与", "kind": "thanks", "weight": 69},
        ]
        made = []
        for position, row in enumerate(table):
            stock = None if row["kind"] == "thanks" else (50 if row["kind"] == "gift" else draws)
            made.append(
                prizes.prize_save(
                    actor=ops,
                    campaign_id=campaign.pk,
                    data={**row, "position": position, "total_stock": stock},
                )
            )
        lifecycle.campaign_submit(actor=ops, campaign_id=campaign.pk)
        lifecycle.campaign_approve(actor=compliance, campaign_id=campaign.pk)
        lifecycle.campaign_go_live(actor=ops, campaign_id=campaign.pk)
        return campaign

    # Expected cost of a draw: 0.2 × 100 + 0.1 × 500 + 0.01 × 2000 = 90 fen; the budget
    # covers about a third of the draws, so it runs out a third of the way in.
    campaign = live_lottery(CAMPAIGN, draws=args.draws, budget_fen=args.draws * 90 // 3)
    warm = live_lottery("bench-lottery-warm-up", draws=WARM_DRAWS, budget_fen=WARM_DRAWS * 90)
    n_customers = args.draws // DRAWS_PER_CUSTOMER
    customers = Customer.objects.bulk_create(
        [
            Customer(external_userid=f"wmLOT{i:06d}", name=f"客户{i}", first_added_at=now)
            for i in range(n_customers + WARM_DRAWS)
        ],
        batch_size=2000,
    )
    links = [
        f"/h5/lottery/{claim_token_make(customer_id=c.pk, campaign_id=campaign.pk)}/"
        for c in customers[WARM_DRAWS:]
    ]
    # Each customer's second draw comes a whole round after the first.
    draws = [link for _round in range(DRAWS_PER_CUSTOMER) for link in links][: args.draws]
    warm_draws = [
        f"/h5/lottery/{claim_token_make(customer_id=c.pk, campaign_id=warm.pk)}/"
        for c in customers[:WARM_DRAWS]
    ]
    Path(args.out).write_text(
        json.dumps({"draws": draws, "warm_draws": warm_draws, "campaign": campaign.pk})
    )
    return 0


# --------------------------------------------------------------------------- load

_HEADERS = {"Accept": "application/json", "Content-Type": FORM}


def _posts(paths: list[str], body: bytes | None = None) -> list[tuple]:
    return [("POST", path, _HEADERS, body) for path in paths]


def loadgen_main(args: argparse.Namespace) -> int:
    """In its own process, so the generator never shares a GIL with the server."""
    seed = json.loads(Path(args.seed_file).read_text())
    port, c = args.port, args.concurrency
    trivial = ["/wecom/ping-trivial/"]
    if args.phase == "trivial":
        result = {"trivial": drive(port, _posts(trivial * args.trivial, b"x=1"), c)}
        print(json.dumps(result), flush=True)
        return 0
    drive(port, _posts(trivial * 300, b"x=1"), c)  # warm-up: every web process and its caches
    drive(port, _posts(seed["warm_draws"]), c)
    result = {
        "trivial": drive(port, _posts(trivial * args.trivial, b"x=1"), c),
        "draws": drive(port, _posts(seed["draws"]), c),
    }
    print(json.dumps(result), flush=True)
    return 0


# --------------------------------------------------------------------------- orchestration


def _checks(database_url: str, campaign_id: int) -> dict:
    """What the database says about the lottery: budget, stock, coupons and payouts."""
    conn = db_connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT budget_fen, budget_committed_fen FROM campaigns_campaign WHERE id = %s",
                [campaign_id],
            )
            budget, committed = cur.fetchone()
            cur.execute(
                "SELECT coalesce(sum(cost_fen), 0), count(*), count(*) FILTER (WHERE won),"
                " count(DISTINCT customer_id) FROM lottery_draw WHERE campaign_id = %s",
                [campaign_id],
            )
            drawn_cost, draws, won, participants = cur.fetchone()
            drawn_cost = int(drawn_cost)  # sum() of bigint is numeric
            # The budget is also held by coupons' reserved cost and the payouts: all must fit.
            overrun = max(0, committed - budget) + max(0, drawn_cost - budget)
            overrun += abs(committed - drawn_cost)  # the counter and the draws must agree
            cur.execute(
                "SELECT p.name, p.kind, p.total_stock, p.stock_remaining,"
                " (SELECT count(*) FROM lottery_draw d WHERE d.prize_id = p.id)"
                " FROM lottery_prize p WHERE p.campaign_id = %s ORDER BY p.position",
                [campaign_id],
            )
            prizes = cur.fetchall()
            overdraw = 0
            per_prize = {}
            for name, _kind, total, remaining, n in prizes:
                per_prize[name] = n
                if total is not None:
                    overdraw += max(0, -remaining) + max(0, n - total)
                    overdraw += abs(total - remaining - n)
            cur.execute(
                "SELECT t.total_stock - t.stock_remaining, (SELECT count(*) FROM"
                " campaigns_coupon c WHERE c.template_id = t.id), (SELECT count(*) FROM"
                " lottery_draw d JOIN lottery_prize p ON p.id = d.prize_id"
                " WHERE p.coupon_template_id = t.id)"
                " FROM campaigns_coupontemplate t WHERE t.campaign_id = %s",
                [campaign_id],
            )
            for taken, coupons, coupon_draws in cur.fetchall():
                overdraw += abs(taken - coupons) + abs(coupons - coupon_draws)
            cur.execute(
                "SELECT count(*), coalesce(sum(amount_fen), 0) FROM payouts_payout"
                " WHERE campaign_id = %s",
                [campaign_id],
            )
            payouts, paid_out = cur.fetchone()
            paid_out = int(paid_out)
            cur.execute(
                "SELECT count(*) FROM lottery_draw d JOIN lottery_prize p ON p.id = d.prize_id"
                " WHERE d.campaign_id = %s AND p.kind = 'red_packet'",
                [campaign_id],
            )
            overdraw += abs(payouts - cur.fetchone()[0])
            cur.execute(
                "SELECT inputs->>'attempt', count(*) FROM lottery_draw WHERE campaign_id = %s"
                " GROUP BY 1 ORDER BY 1",
                [campaign_id],
            )
            attempts = dict(cur.fetchall())
            cur.execute(
                "SELECT code || ':' || reason, count(*) FROM campaigns_claimrefusal"
                " WHERE campaign_id = %s GROUP BY 1",
                [campaign_id],
            )
            refusals = dict(cur.fetchall())
    finally:
        conn.close()
    return {
        "budget_fen": budget,
        "committed_fen": committed,
        "budget_overrun_fen": overrun,
        "stock_overdraw": overdraw,
        "draws": draws,
        "won": won,
        "participants": participants,
        "per_prize": per_prize,
        "payouts": payouts,
        "payouts_fen": paid_out,
        "attempts": attempts,
        "refusals": refusals,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=20000)
    parser.add_argument("--trivial", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=0, help="default: 2 per web worker")
    parser.add_argument("--web-workers", type=int, default=0, help="default: as make run")
    for hidden in ("--seed", "--loadgen"):
        parser.add_argument(hidden, action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--phase", "--seed-file", "--out"):
        parser.add_argument(hidden, default="", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        return seed_main(args)
    if args.loadgen:
        return loadgen_main(args)

    with web_stack(web_workers=args.web_workers) as stack:
        args.concurrency = args.concurrency or 2 * stack.web_workers
        seed_file = stack.var / "seed.json"
        print("[bench] seeding the lottery, customers and draw links", flush=True)
        subprocess.run(  # noqa: S603
            [sys.executable, __file__, "--seed", "--out", str(seed_file), "--draws", str(args.draws)],
            cwd=BASE_DIR, env=stack.env, check=True,
        )  # fmt: skip
        web_start(stack, worker=False)  # a draw's red packet is paid days later
        env = stack.env
        generator = "wrk" if shutil.which("wrk") else "Python threads"
        print(
            f"[bench] web on 127.0.0.1:{stack.port} ({stack.web_workers} gunicorn workers);"
            f" load from {generator}, {args.concurrency} connections",
            flush=True,
        )

        def loadgen(phase: str) -> dict:
            return stack.loadgen(
                __file__,
                "--phase", phase, "--seed-file", str(seed_file),
                "--trivial", str(args.trivial), "--concurrency", str(args.concurrency),
            )  # fmt: skip

        main_phase = loadgen("main")
        trivial, draws = main_phase["trivial"], main_phase["draws"]
        print(f"[bench] trivial view : {trivial}", flush=True)
        print(f"[bench] draws        : {draws}", flush=True)
        trivial_after = loadgen("trivial")["trivial"]
        print(f"[bench] trivial again: {trivial_after}", flush=True)
        seed = json.loads(seed_file.read_text())
        checks = _checks(env["DATABASE_URL"], seed["campaign"])
        print(f"[bench] database: {checks}", flush=True)
        baseline = (trivial["per_s"] + trivial_after["per_s"]) / 2
        summary = {
            "draws_per_s": draws["per_s"],
            "ratio_vs_trivial": round(draws["per_s"] / baseline, 3),
            "trivial_per_s": round(baseline, 1),
            "p50_ms": draws["p50_ms"],
            "p99_ms": draws["p99_ms"],
            "draws": checks["draws"],
            "won": checks["won"],
            "budget_fen": checks["budget_fen"],
            "budget_used_fen": checks["committed_fen"],
            "budget_overrun_fen": checks["budget_overrun_fen"],
            "stock_overdraw": checks["stock_overdraw"],
            "statuses": draws["statuses"],
            "generator": draws["generator"],
        }
        print(json.dumps(summary), flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
