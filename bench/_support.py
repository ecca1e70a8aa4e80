"""What every benchmark needs: the data services and a throwaway database.

``bench_database("scrm_bench_x")`` starts the embedded PostgreSQL/Redis unless
DATABASE_URL/REDIS_URL are set, creates the database, points this process's
environment at it (and at its own Redis database, so a running ``make run``
never sees the benchmark's tasks), and drops it and stops what it started on
the way out.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))


def db_connect(url: str, *, dbname: str | None = None):
    """A psycopg2 connection to the database of ``url`` (a DATABASE_URL, a Unix socket's
    folder as ``?host=``), or to ``dbname`` on that server."""
    import environ
    import psycopg2

    cfg = environ.Env.db_url_config(url)
    host = cfg.get("OPTIONS", {}).get("host") or cfg.get("HOST") or None
    return psycopg2.connect(
        dbname=dbname or cfg.get("NAME"),
        host=host,
        port=cfg.get("PORT") or None,
        user=cfg.get("USER") or None,
        password=cfg.get("PASSWORD") or None,
    )


def _admin_connect(url: str):
    return db_connect(url, dbname="postgres")


def bench_reviewers():
    """The ops user who drafts a benchmark's campaigns or content and the compliance
    reviewer who approves them (in a child that has set Django up)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from scrm.core.role_names import Role

    users = get_user_model()
    ops = users.objects.create(username="bench-ops", is_staff=True)
    ops.groups.add(Group.objects.get(name=Role.OPS_STAFF))
    reviewer = users.objects.create(username="bench-compliance", is_staff=True)
    reviewer.groups.add(Group.objects.get(name=Role.COMPLIANCE_REVIEWER))
    return ops, reviewer


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _recreate(url: str, name: str, *, drop_only: bool = False) -> None:
    conn = _admin_connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
            if not drop_only:
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


@contextlib.contextmanager
def bench_database(name: str, *, redis_db: int = 13) -> Iterator[dict[str, str]]:
    """Services up, a fresh database ``name``; yields the environment to hand to children."""
    from scrm.devstack import Services
    from scrm.redis_urls import redis_url_with_db

    services = Services(adopt=False)
    try:
        os.environ.update(services.start())
        server_url = os.environ["DATABASE_URL"]
        _recreate(server_url, name)
        os.environ["DATABASE_URL"] = _with_database(server_url, name)
        os.environ["REDIS_URL"] = redis_url_with_db(os.environ["REDIS_URL"], redis_db)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.dev")
        os.environ.setdefault("DEBUG", "false")  # no per-query logging in the timings
        try:
            yield {
                k: os.environ[k]
                for k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DEBUG")
            }
        finally:
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
            _recreate(server_url, name, drop_only=True)
    finally:
        services.stop()


def percentile(sorted_values: list[float], q: float) -> float:
    import math

    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, math.ceil(len(sorted_values) * q) - 1)]


def celery_worker(
    env: dict[str, str], log: Path, *, concurrency: int, name: str = "bench"
) -> subprocess.Popen:
    """A Celery worker in a session of its own (so ``kill_session`` takes its pool too),
    logging to ``log``; returns once it answers a ping."""
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "scrm", "worker", "-c", str(concurrency),
         "-l", "WARNING", "-n", f"{name}-{time.monotonic_ns()}@localhost",
         "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR,
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    from scrm.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited; see {log}")
        if app.control.ping(timeout=0.5):
            return proc
    kill_session(proc)
    raise RuntimeError(f"worker did not start ({app.conf.broker_url}); see {log}")


def kill_session(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal a process started in a session of its own, with its children."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        proc.wait(30)


def due_red_packets_insert(cur, *, campaign_id: int, customers: str, amount_fen: int = 500) -> int:
    """One red packet due today for each customer ``customers`` yields (a ``FROM`` clause
    naming ``contacts_customer c``), written in bulk exactly as ``payout_schedule`` writes
    them, and the campaign's budget committed for them (in a child that has set Django up).
    Returns how many."""
    from campaigns.payouts.services import _bill_prefix, local_today

    today = local_today()
    cur.execute(
        f"""
        INSERT INTO payouts_payout (campaign_id, customer_id, reason, amount_fen, bill_no,
            source_key, status, due_on, conditions, budget_reserved, note, cancel_reason,
            attempt_count, needs_query, deferrals, last_error, channel, channel_ref, openid,
            created_at, updated_at)
        SELECT %(campaign)s, c.id, 'red_packet', %(amount)s,
            %(prefix)s || lpad((nextval('payouts_bill_no_seq') %% 10000000000)::text, 10, '0'),
            'red_packet:' || %(campaign)s || ':' || c.id, 'scheduled', %(today)s, '[]'::jsonb,
            false, '', '', 0, false, 0, '', '', '', '', now(), now()
        {customers}
        """,  # noqa: S608 - the FROM clause is the benchmark's own text
        {
            "campaign": campaign_id,
            "amount": amount_fen,
            "prefix": _bill_prefix() + f"{today:%Y%m%d}",
            "today": today,
        },
    )
    count = cur.rowcount
    cur.execute(
        "UPDATE campaigns_campaign SET budget_committed_fen = %s WHERE id = %s",
        [count * amount_fen, campaign_id],
    )
    return count
