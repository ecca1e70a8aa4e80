"""Coupon claims benchmark: 20,000 claims over real HTTP against a few campaigns, then
2,000 redemptions with retried idempotency keys.

Starts what ``make run`` starts for the web tier (embedded PostgreSQL/Redis via
``scrm.devstack.Services``, migrate, gunicorn with devstack's exact arguments, a
Celery worker in the same session) on free ports and a private var dir; seeds four
live campaigns (one of them with a budget that runs out before its stock) and
5,000 customers, each with a personal claim link per campaign; then, from a
load-generator process of its own (wrk when installed, else Python threads; two
connections per web worker, fed from one queue: every worker busy with one more
request waiting for each, which is the server's full throughput; more connections
only wait longer in the listen queue):

1. a trivial view (``/wecom/ping-trivial/``) on the same server,
2. 20,000 claims (the customers' H5 claim endpoint, as JSON), interleaved across the
   campaigns, more claims than stock so that stock and budget run out under load,
3. 2,000 redemptions through the merchant API, each retried with the same key
   (some while the first is still in flight) and some sent again with a new key,
4. the trivial view again (the machine's speed drifts; the ratio is to the mean).

It then checks the database: no template's stock below zero or more coupons than
stock, no budget overdrawn, no coupon with two standing redemptions, every retry
answered exactly like the first try. Stops everything it started.

    .venv/bin/python bench/coupon_claims.py [--claims 20000] [--redemptions 2000] [--concurrency N]

Last line: one JSON object (claims_per_s, ratio_vs_trivial, p99_ms, overdraw,
double_redeemed, and more).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

from _load import BASE_DIR, CpuMeter, drive, drive_threads, web_stack, web_start  # noqa: E402
from _support import bench_reviewers, db_connect  # noqa: E402

CAMPAIGNS = 4
CUSTOMERS = 5000
WARM_CUSTOMERS = 300
FORM = "application/x-www-form-urlencoded"


# --------------------------------------------------------------------------- seeding


def seed_main(args: argparse.Namespace) -> int:
    """Runs in a child with the server's environment: campaigns through the services
    (drafted by ops, approved by compliance, live), customers in bulk, links."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.dev")
    django.setup()
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.links import claim_token_make
    from campaigns.services import lifecycle, merchants
    from contacts.models import Customer
    from groups.models import Region

    ops, compliance = bench_reviewers()
    now = timezone.now()
    per_campaign = args.claims // CAMPAIGNS
    stock = per_campaign * 9 // 10  # a tenth of the claims find the stock gone
    face = 2000

    def live_campaign(name: str, *, stock: int, budget_fen: int | None = None):
        campaign = lifecycle.campaign_create(
            actor=ops,
            data={
                "name": name,
                "title": "周三美食五折",
                "rules_text": "每位客户限领一张",
                "starts_at": now - timedelta(hours=1),
                "ends_at": now + timedelta(days=7),
                "budget_fen": budget_fen,
                "verified_only": False,
                "per_customer_limit": 1,
                # Every claim comes from 127.0.0.1 here: no per-IP velocity limit.
                "velocity_ip_per_hour": None,
                "velocity_phone_per_hour": None,
            },
        )
        template = lifecycle.template_create(
            actor=ops,
            campaign_id=campaign.pk,
            data={
                "title": "满100减20",
                "kind": "amount_off",
                "face_value_fen": face,
                "min_spend_fen": 10000,
                "validity": "relative",
                "valid_days": 7,
                "total_stock": stock,
            },
        )
        lifecycle.campaign_submit(actor=ops, campaign_id=campaign.pk)
        lifecycle.campaign_approve(actor=compliance, campaign_id=campaign.pk)
        lifecycle.campaign_go_live(actor=ops, campaign_id=campaign.pk)
        return campaign, template

    campaigns = []
    for i in range(CAMPAIGNS):
        # The last campaign's budget runs out before its stock does.
        budget = (stock * 8 // 10) * face if i == CAMPAIGNS - 1 else None
        campaigns.append(live_campaign(f"bench-{i}", stock=stock, budget_fen=budget))
    warm = live_campaign("bench-warm-up", stock=WARM_CUSTOMERS)
    customers = Customer.objects.bulk_create(
        [
            Customer(external_userid=f"wmBENCH{i:06d}", name=f"客户{i}", first_added_at=now)
            for i in range(max(CUSTOMERS, per_campaign) + WARM_CUSTOMERS)
        ],
        batch_size=2000,
    )
    claims = []
    for campaign, template in campaigns:
        for customer in customers[WARM_CUSTOMERS : WARM_CUSTOMERS + per_campaign]:
            token = claim_token_make(customer_id=customer.pk, campaign_id=campaign.pk)
            claims.append([f"/h5/claim/{token}/", f"template={template.pk}"])
    random.Random(7).shuffle(claims)  # the campaigns are claimed at the same time
    warm_claims = [
        [
            f"/h5/claim/{claim_token_make(customer_id=c.pk, campaign_id=warm[0].pk)}/",
            f"template={warm[1].pk}",
        ]
        for c in customers[:WARM_CUSTOMERS]
    ]
    region = Region.objects.create(code="BENCH", name="基准测试区", level=Region.Level.CITY)
    merchant = merchants.merchant_save(actor=ops, data={"name": "基准商户", "region": region})
    _key, raw_key = merchants.merchant_key_create(actor=ops, merchant_id=merchant.pk)
    Path(args.out).write_text(
        json.dumps(
            {
                "claims": claims,
                "warm_claims": warm_claims,
                "merchant_key": raw_key,
                "templates": [t.pk for _c, t in campaigns],
            }
        )
    )
    return 0


# --------------------------------------------------------------------------- load


def _claim_requests(claims: list) -> list[tuple]:
    headers = {"Accept": "application/json", "Content-Type": FORM}
    return [("POST", path, headers, body.encode()) for path, body in claims]


def _trivial_requests(n: int) -> list[tuple]:
    return [("POST", "/wecom/ping-trivial/", {"Content-Type": FORM}, b"x=1")] * n


def _redemption_requests(codes: list[str], key: str, concurrency: int) -> tuple[list, list]:
    """Each code redeemed once and retried with the same key (every other retry a few
    requests after the first try, so it races it; the rest at the end), a tenth of
    the codes also sent with a new key. Returns the queue and the (first, retry)
    positions in it."""
    base = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def request(code: str, idem: str) -> tuple:
        body = json.dumps({"code": code, "amount_fen": 15800}).encode()
        return ("POST", "/api/redemptions/", {**base, "Idempotency-Key": idem}, body)

    racing = max(1, concurrency // 2)
    queue: list[tuple] = []
    first_at: dict[int, int] = {}
    pairs: list[tuple[int, int]] = []
    for i, code in enumerate(codes):
        first_at[i] = len(queue)
        queue.append(request(code, f"k-{i}"))
        j = i - racing
        if j >= 0 and j % 2 == 0:
            pairs.append((first_at[j], len(queue)))
            queue.append(request(codes[j], f"k-{j}"))
    for j, code in enumerate(codes):
        if j % 2 or j + racing >= len(codes):
            pairs.append((first_at[j], len(queue)))
            queue.append(request(code, f"k-{j}"))
    queue.extend(request(code, f"x-{i}") for i, code in enumerate(codes) if i % 10 == 0)
    return queue, pairs


def loadgen_main(args: argparse.Namespace) -> int:
    """In its own process, so the generator never shares a GIL with the server."""
    seed = json.loads(Path(args.seed_file).read_text())
    port, c = args.port, args.concurrency
    meter = CpuMeter(web=args.web_pid, worker=args.worker_pid, postgres=args.postmaster)
    if args.phase == "trivial":
        trivial = drive(port, _trivial_requests(args.trivial), c, meter)
        print(json.dumps({"trivial": trivial}), flush=True)
        return 0
    if args.phase == "redeem":
        codes = json.loads(Path(args.codes_file).read_text())
        queue, pairs = _redemption_requests(codes, seed["merchant_key"], c)
        result = drive_threads(port, queue, c, keep_bodies=True)
        bodies = result.pop("bodies")
        # A retry must get the first try's status and the very same bytes.
        mismatched = sum(1 for a, b in pairs if bodies[a] != bodies[b])
        created: dict[str, set[int]] = {}
        for status, data in bodies:
            if status == 201:
                body = json.loads(data)
                created.setdefault(body["code"], set()).add(body["id"])
        result["retries_not_identical"] = mismatched
        # Two different redemptions of one code answered 201 (a replay has the same id).
        result["codes_answered_201_twice"] = sum(1 for ids in created.values() if len(ids) > 1)
        result["distinct_redeemed"] = len(created)
        print(json.dumps({"redeem": result}), flush=True)
        return 0
    drive(port, _trivial_requests(300), c)  # warm-up: every web process and its caches
    drive(port, _claim_requests(seed["warm_claims"]), c)
    result = {
        "trivial": drive(port, _trivial_requests(args.trivial), c, meter),
        "claims": drive(port, _claim_requests(seed["claims"]), c, meter),
    }
    print(json.dumps(result), flush=True)
    return 0


# --------------------------------------------------------------------------- orchestration


def _claimed_codes(database_url: str, n: int) -> list[str]:
    conn = db_connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT c.code FROM campaigns_coupon c JOIN campaigns_campaign k"
                " ON k.id = c.campaign_id WHERE c.status = 'claimed' AND k.name LIKE 'bench-%%'"
                " AND k.name <> 'bench-warm-up' ORDER BY c.id LIMIT %s",
                [n],
            )
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


def _checks(database_url: str, templates: list[int]) -> dict:
    """What the database says: stock, budget and redemptions."""
    conn = db_connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT t.id, t.total_stock, t.stock_remaining,"
                " (SELECT count(DISTINCT claim_ref) FROM campaigns_coupon c WHERE c.template_id = t.id)"
                " FROM campaigns_coupontemplate t WHERE t.id = ANY(%s)",
                [templates],
            )
            rows = cur.fetchall()
            overdraw = sum(
                max(0, claimed - total) + max(0, -remaining) + abs(total - remaining - claimed)
                for _id, total, remaining, claimed in rows
            )
            cur.execute(
                "SELECT count(*) FROM campaigns_campaign WHERE budget_fen IS NOT NULL"
                " AND budget_committed_fen > budget_fen"
            )
            overdraw += cur.fetchone()[0]
            cur.execute(
                "SELECT count(*) FROM (SELECT coupon_id FROM campaigns_redemption"
                " WHERE status = 'redeemed' GROUP BY coupon_id HAVING count(*) > 1) AS twice"
            )
            double = cur.fetchone()[0]
            cur.execute(
                "SELECT count(*) FROM campaigns_coupon c WHERE (c.status = 'redeemed') <>"
                " EXISTS (SELECT 1 FROM campaigns_redemption r WHERE r.coupon_id = c.id"
                " AND r.status = 'redeemed')"
            )
            inconsistent = cur.fetchone()[0]
            cur.execute(
                "SELECT k.name, count(c.id) FROM campaigns_campaign k LEFT JOIN campaigns_coupon c"
                " ON c.campaign_id = k.id WHERE k.name LIKE 'bench-%%' GROUP BY k.name ORDER BY 1"
            )
            granted = dict(cur.fetchall())
            cur.execute(
                "SELECT code || ':' || reason, count(*) FROM campaigns_claimrefusal GROUP BY 1"
            )
            refusals = dict(cur.fetchall())
    finally:
        conn.close()
    return {
        "overdraw": overdraw,
        "double": double + inconsistent,
        "granted": granted,
        "refusals": refusals,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=20000)
    parser.add_argument("--redemptions", type=int, default=2000)
    parser.add_argument("--trivial", type=int, default=20000)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=0,
        help="connections (default: two per web worker: every worker busy and one request"
        " queued for each; more only wait in the listen queue, adding latency, not throughput)",
    )
    parser.add_argument("--web-workers", type=int, default=0, help="default: as make run")
    for hidden in ("--seed", "--loadgen"):
        parser.add_argument(hidden, action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--phase", "--seed-file", "--codes-file", "--out"):
        parser.add_argument(hidden, default="", help=argparse.SUPPRESS)
    for hidden in ("--port", "--web-pid", "--worker-pid", "--postmaster"):
        parser.add_argument(hidden, type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        return seed_main(args)
    if args.loadgen:
        return loadgen_main(args)

    with web_stack(web_workers=args.web_workers) as stack:
        args.concurrency = args.concurrency or 2 * stack.web_workers
        print("[bench] seeding campaigns, customers and links", flush=True)
        seed_file = stack.var / "seed.json"
        subprocess.run(  # noqa: S603
            [sys.executable, __file__, "--seed", "--out", str(seed_file), "--claims", str(args.claims)],
            cwd=BASE_DIR, env=stack.env, check=True,
        )  # fmt: skip
        web_start(stack)
        generator = "wrk" if shutil.which("wrk") else "Python threads"
        print(
            f"[bench] web on 127.0.0.1:{stack.port} ({stack.web_workers} gunicorn workers);"
            f" load from {generator}, {args.concurrency} connections",
            flush=True,
        )

        def loadgen(phase: str, **extra: str) -> dict:
            argv = [
                "--phase", phase, "--seed-file", str(seed_file), "--trivial", str(args.trivial),
                "--concurrency", str(args.concurrency), "--web-pid", str(stack.web.pid),
                "--worker-pid", str(stack.worker.pid), "--postmaster", str(stack.postmaster),
            ]  # fmt: skip
            for name, value in extra.items():
                argv += [f"--{name.replace('_', '-')}", value]
            return stack.loadgen(__file__, *argv)

        env = stack.env
        var = stack.var
        main_phase = loadgen("main")
        trivial, claims = main_phase["trivial"], main_phase["claims"]
        print(f"[bench] trivial view : {trivial}", flush=True)
        print(f"[bench] claims       : {claims}", flush=True)
        codes_file = var / "codes.json"
        codes_file.write_text(json.dumps(_claimed_codes(env["DATABASE_URL"], args.redemptions)))
        redeem = loadgen("redeem", codes_file=str(codes_file))["redeem"]
        print(f"[bench] redemptions  : {redeem}", flush=True)
        trivial_after = loadgen("trivial")["trivial"]
        print(f"[bench] trivial again: {trivial_after}", flush=True)
        seed = json.loads(seed_file.read_text())
        checks = _checks(env["DATABASE_URL"], seed["templates"])
        print(f"[bench] granted per campaign: {checks['granted']}", flush=True)
        print(f"[bench] refusals: {checks['refusals']}", flush=True)
        baseline = (trivial["per_s"] + trivial_after["per_s"]) / 2
        summary = {
            "claims_per_s": claims["per_s"],
            "ratio_vs_trivial": round(claims["per_s"] / baseline, 3),
            "p50_ms": claims["p50_ms"],
            "p99_ms": claims["p99_ms"],
            "overdraw": checks["overdraw"],
            "double_redeemed": checks["double"] + redeem["codes_answered_201_twice"],
            "retries_not_identical": redeem["retries_not_identical"],
            "redemptions_per_s": redeem["per_s"],
            "generator": claims["generator"],
        }
        print(json.dumps(summary), flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
