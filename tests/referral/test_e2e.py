"""D8 end to end: friends scan an inviter's code in the WeCom sandbox, WeCom delivers
every callback twice, the webhook stores them and a real Celery worker (two processes)
runs them concurrently: each friend counts once and each tier is recorded once."""

from __future__ import annotations

import threading
import time

import pytest

from campaigns.models import Coupon
from campaigns.referral.models import Invitation, ReferralReward
from scrm.wecom.models import InboxEvent
from tests.conftest import WorkerProcess, child_env
from tests.referral.conftest import code_of, scan

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("wecom-e2e")]

FAST = {"WECOM_RETRY_BASE_S": "0.05", "WECOM_RETRY_MAX_S": "0.5", "WECOM_RATE_BLOCK_S": "1"}


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def worker(corp, transactional_db):
    from scrm.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    proc = WorkerProcess(child_env(**FAST)).start()
    yield proc
    proc.stop()


def test_friends_scanning_at_once_with_redelivered_callbacks_pay_each_tier_once(
    corp, program, live_server, worker, settings
):
    settings.SCRM_PUBLIC_URL = live_server.url
    root, _f, _e = scan(corp, userid="lina", name="王老客")
    code = code_of(program, root)
    corp.sandbox.config.callback_url = f"{live_server.url}/wecom/callback/"

    def friend_scans(i: int) -> None:
        corp.control(
            "scan",
            config_id=code.config_id,
            name=f"朋友{i}",
            external_userid=f"wmFRIEND{i}",
            deliveries=2,
        )

    threads = [threading.Thread(target=friend_scans, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    wait_for(
        lambda: (
            InboxEvent.objects.filter(change_type="add_external_contact", status="done").count()
            >= 5
        ),
        what="the root's and the four friends' add events",
    )
    wait_for(
        lambda: not InboxEvent.objects.exclude(status__in=["done", "ignored"]).exists(),
        what="the inbox to drain",
    )
    # Each delivered twice, stored once: one add event per customer.
    assert InboxEvent.objects.filter(change_type="add_external_contact").count() == 5
    invitations = Invitation.objects.filter(program=program, inviter=root)
    assert invitations.count() == 4
    assert set(invitations.values_list("status", "depth")) == {("succeeded", 1)}
    tiers = sorted(
        ReferralReward.objects.filter(inviter=root).values_list("tier__threshold", "status")
    )
    assert tiers == [(1, "granted"), (3, "waiting")]
    assert Coupon.objects.filter(customer=root).count() == 1
