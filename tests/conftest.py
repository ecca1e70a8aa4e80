"""Fixtures shared by the whole suite: the cast of people, a real Celery worker.

Everything runs on real PostgreSQL and Redis (``make test`` starts embedded ones
when ``DATABASE_URL``/``REDIS_URL`` are unset). Each xdist worker has its own
test database and its own Redis database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from scrm.core.roles import Role

BASE_DIR = Path(__file__).resolve().parent.parent


@dataclass
class Cast:
    """The small cast of named people tests share (style.md)."""

    ops_admin: object
    ops: object
    compliance: object
    branch_manager: object
    manager_a: object
    manager_b: object
    staff_branch_manager: object
    staff_a: object
    staff_b: object


@pytest.fixture
def cast(db) -> Cast:
    from tests.factories import BranchFactory, StaffFactory, UserFactory

    branch = BranchFactory(code="SZ-FT", name="深圳福田支行")
    other_branch = BranchFactory(code="CD-JJ", name="成都锦江支行")
    ops_admin = UserFactory(
        username="opsadmin", is_staff=True, is_superuser=True, roles=[Role.OPS_ADMIN]
    )
    ops = UserFactory(username="ops", is_staff=True, roles=[Role.OPS_STAFF])
    compliance = UserFactory(username="compliance", is_staff=True, roles=[Role.COMPLIANCE_REVIEWER])
    branch_manager = UserFactory(username="branchmgr", roles=[Role.BRANCH_MANAGER])
    manager_a = UserFactory(username="manager_a", roles=[Role.CUSTOMER_MANAGER])
    manager_b = UserFactory(username="manager_b", roles=[Role.CUSTOMER_MANAGER])
    return Cast(
        ops_admin=ops_admin,
        ops=ops,
        compliance=compliance,
        branch_manager=branch_manager,
        manager_a=manager_a,
        manager_b=manager_b,
        staff_branch_manager=StaffFactory(
            userid="wangfang", name="王芳", branch=branch, user=branch_manager
        ),
        staff_a=StaffFactory(userid="lina", name="李娜", branch=branch, user=manager_a),
        staff_b=StaffFactory(userid="chenjing", name="陈静", branch=other_branch, user=manager_b),
    )


def database_url_for_children() -> str:
    """A URL for the database this test process uses (the test database)."""
    from django.db import connection

    s = connection.settings_dict
    user = quote(s.get("USER") or "postgres")
    password = quote(s.get("PASSWORD") or "")
    auth = f"{user}:{password}" if password else user
    host = s.get("HOST") or ""
    port = s.get("PORT") or ""
    if host.startswith("/"):
        return f"postgres://{auth}@/{s['NAME']}?host={host}" + (f"&port={port}" if port else "")
    return f"postgres://{auth}@{host}{':' + str(port) if port else ''}/{s['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a server or worker process that must share this test's data."""
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "scrm.settings.test",
            "DATABASE_URL": database_url_for_children(),
            "PYTEST_XDIST_WORKER": os.environ.get("PYTEST_XDIST_WORKER", "gw0"),
            "PYTHONUNBUFFERED": "1",
            "DB_CONN_MAX_AGE": "0",
            "WECOM_API_BASE": settings.WECOM_API_BASE,
        }
    )
    env.update(extra)
    return env


class WorkerProcess:
    """A real ``celery worker`` process on the test database and this worker's Redis db."""

    def __init__(self, env: dict[str, str], concurrency: int = 2):
        self.env = env
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None
        worker = env["PYTEST_XDIST_WORKER"]
        self.name = f"test-{worker}-{os.getpid()}-{time.monotonic_ns()}@localhost"
        self.log = BASE_DIR / "var" / "test-logs" / f"{self.name.split('@')[0]}.log"

    def start(self, timeout: float = 30.0) -> WorkerProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "scrm",
                "worker",
                "-l",
                "INFO",
                "-c",
                str(self.concurrency),
                "-n",
                self.name,
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        from scrm.celery import app

        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"celery worker exited: {self.log.read_text()[-2000:]}")
                replies = app.control.ping(timeout=0.5) or []
                if any(self.name in reply for reply in replies):
                    return self
            raise RuntimeError(f"celery worker did not answer: {self.log.read_text()[-2000:]}")
        except BaseException:
            self.kill()  # never leave a stray worker behind, whatever went wrong
            raise

    def kill(self) -> None:
        """Kill the worker and its pool processes at once (a crash, not a shutdown)."""
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@pytest.fixture
def celery_worker_process(transactional_db):
    """Start a real Celery worker against this test's database; stop it afterwards."""
    from scrm.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    worker = WorkerProcess(child_env()).start()
    yield worker
    worker.stop()


@pytest.fixture(autouse=True)
def _no_request_answers_500():
    """Fail the test if any request it made (test client or live server) raised an
    unhandled exception, even one the test did not look at (a 500 the user would see)."""
    from django.core.signals import got_request_exception

    raised: list[str] = []

    def record(sender, request=None, **kwargs):
        exc = sys.exc_info()[1]
        where = f"{request.method} {request.get_full_path()}" if request is not None else "?"
        raised.append(f"{where}: {type(exc).__name__}: {exc}")

    got_request_exception.connect(record, weak=False)
    try:
        yield
    finally:
        got_request_exception.disconnect(record)
    if raised:
        pytest.fail("a request answered 500:\n" + "\n".join(raised), pytrace=False)


@pytest.fixture(autouse=True)
def _isolated_redis(request):
    """Each test starts with an empty Redis database of its own xdist worker."""
    from scrm.core.health import redis_client

    redis_client().flushdb()
    yield


# --- WeCom sandbox (added by the WeCom backbone; see tests/wecom/sandbox_fixtures.py) ---
# --- Browser (Playwright + Debian's headless Chromium; see tests/browser.py) ---
from tests.browser import browser, browser_context, page  # noqa: E402, F401
from tests.wecom.sandbox_fixtures import _wecom_sandbox_server, wecom_sandbox  # noqa: E402, F401

# Content for the SOP and task-list tests: written by ops, approved by compliance.


@pytest.fixture
def approved(cast):
    """Content written by ops and approved by compliance (four eyes)."""
    from scrm.content import services as content_services

    content = content_services.content_create(
        actor=cast.ops, title="周三美食五折", text="周三美食五折！{客户经理}为您服务。"
    )
    content_services.content_submit(actor=cast.ops, content_id=content.pk)
    content_services.content_approve(actor=cast.compliance, content_id=content.pk)
    content.refresh_from_db()
    return content


@pytest.fixture
def draft(cast):
    from scrm.content import services as content_services

    return content_services.content_create(actor=cast.ops, title="草稿", text="还没审核")


@pytest.fixture
def wecom_calls_outside_transactions(monkeypatch):
    """Observe our adapter: ``watch(*names)`` makes each named WeCom call assert that no
    database transaction is open while WeCom answers, and returns the list of the calls
    made (in order). Use with a transactional test: a plain ``db`` test runs inside one."""
    from django.db import transaction

    from scrm.wecom.adapter import wecom

    seen: list[str] = []

    def watch(*names: str) -> list[str]:
        for name in names:
            real = getattr(wecom, name)

            def call(*args, _name=name, _real=real, **kwargs):
                assert not transaction.get_connection().in_atomic_block, (
                    f"{_name} inside a transaction"
                )
                seen.append(_name)
                return _real(*args, **kwargs)

            monkeypatch.setattr(wecom, name, call)
        return seen

    return watch
