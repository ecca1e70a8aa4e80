"""Stock, limits and redemptions under concurrency, over real HTTP against the web
server as ``make run`` starts it (gunicorn, several worker processes), on the test
database (D7: never overdrawn, never redeemed twice)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from campaigns.links import claim_token_make
from campaigns.models import ClaimRefusal, Coupon, CouponTemplate, Redemption
from campaigns.services.claims import coupon_claim
from campaigns.services.merchants import merchant_key_create
from contacts.models import Customer
from scrm import devstack
from tests.campaigns.factories import CouponTemplateFactory, MerchantFactory
from tests.conftest import BASE_DIR, child_env
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
WORKERS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/h5/claim/x/", headers={"Accept": "application/json"})
        return conn.getresponse().status == 403
    except OSError:
        return False
    finally:
        conn.close()


@pytest.fixture(scope="module")
def web(django_db_setup, django_db_blocker):
    """gunicorn with devstack's own arguments, ``WORKERS`` processes, on the test database."""
    with django_db_blocker.unblock():
        # Persistent connections, as in production; the server stops before the test
        # database is dropped.
        env = child_env(
            ALLOWED_HOSTS="127.0.0.1,localhost", LOG_LEVEL="WARNING", DB_CONN_MAX_AGE="60"
        )
    port = _free_port()
    log = BASE_DIR / "var" / "test-logs" / f"campaigns-web-{os.getpid()}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(  # noqa: S603
        devstack.web_argv(host="127.0.0.1", port=port, workers=WORKERS),
        cwd=BASE_DIR,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not come up")
            time.sleep(0.2)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _burst(port: int, requests: list[tuple[str, str, bytes, dict]], threads: int = 48):
    """Send every request at once (threads released together); (status, json) each."""
    start = threading.Barrier(min(threads, len(requests)))
    local = threading.local()

    def send(req):
        method, path, body, headers = req
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with contextlib.suppress(threading.BrokenBarrierError):
                start.wait(timeout=30)
        for _attempt in range(3):
            try:
                local.conn.request(method, path, body=body, headers=headers)
                response = local.conn.getresponse()
                data = response.read()
                return response.status, json.loads(data)
            except (http.client.HTTPException, OSError):
                local.conn.close()
                local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        raise RuntimeError(f"{method} {path} failed")

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(send, requests))


def _claim_request(customer_id: int, campaign_id: int, template_id: int):
    token = claim_token_make(customer_id=customer_id, campaign_id=campaign_id)
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return ("POST", f"/h5/claim/{token}/", f"template={template_id}".encode(), headers)


def test_a_thousand_concurrent_claims_on_a_stock_of_a_hundred_grant_exactly_a_hundred(web):
    template = CouponTemplateFactory(total_stock=100, campaign__per_customer_limit=1)
    now = timezone.now()
    customers = Customer.objects.bulk_create(
        [
            Customer(external_userid=f"wmLOAD{i:05d}", name=f"客户{i}", first_added_at=now)
            for i in range(1000)
        ]
    )
    requests = [_claim_request(c.pk, template.campaign_id, template.pk) for c in customers]
    answers = _burst(web, requests)
    outcomes = Counter(
        "granted" if status == 201 else f"{status} {body['code']}" for status, body in answers
    )
    assert outcomes == {"granted": 100, "409 out_of_stock": 900}
    template.refresh_from_db()
    assert template.stock_remaining == 0
    assert Coupon.objects.filter(template=template).count() == 100
    assert Coupon.objects.filter(template=template).values("customer").distinct().count() == 100
    assert ClaimRefusal.objects.filter(template=template, code="out_of_stock").count() == 900
    codes = [body["coupons"][0]["code"] for status, body in answers if status == 201]
    assert sorted(codes) == sorted(Coupon.objects.values_list("code", flat=True))


def test_fifty_concurrent_claims_by_one_customer_with_a_limit_of_one_grant_exactly_one(web):
    template = CouponTemplateFactory(total_stock=100, campaign__per_customer_limit=1)
    customer = CustomerFactory()
    request = _claim_request(customer.pk, template.campaign_id, template.pk)
    answers = _burst(web, [request] * 50, threads=50)
    outcomes = Counter(status if status == 201 else body["code"] for status, body in answers)
    assert outcomes == {201: 1, "limit_reached": 49}
    assert Coupon.objects.filter(customer=customer).count() == 1
    assert CouponTemplate.objects.get(pk=template.pk).stock_remaining == 99


@pytest.fixture
def pos_key(db):
    ops = UserFactory(username="ops-concurrency", roles=["ops_staff"])
    _key, raw = merchant_key_create(actor=ops, merchant_id=MerchantFactory().pk)
    return raw


def _redeem_request(raw_key: str, code: str, key: str, amount: int = 20000):
    body = json.dumps({"code": code, "amount_fen": amount}).encode()
    headers = {
        "Authorization": f"Bearer {raw_key}",
        "Idempotency-Key": key,
        "Content-Type": "application/json",
    }
    return ("POST", "/api/redemptions/", body, headers)


def test_fifty_concurrent_redemptions_of_one_code_redeem_it_once_and_retries_answer_the_same(
    web, pos_key
):
    template = CouponTemplateFactory()
    [coupon] = coupon_claim(
        customer_id=CustomerFactory().pk, campaign_id=template.campaign_id
    ).coupons
    requests = [_redeem_request(pos_key, coupon.code, f"till-{i}") for i in range(50)]
    answers = _burst(web, requests, threads=50)
    outcomes = Counter(status if status == 201 else body["code"] for status, body in answers)
    assert outcomes == {201: 1, "already_redeemed": 49}
    assert Redemption.objects.filter(coupon_id=coupon.pk).count() == 1
    # A retried key gets the identical answer, the success and a refusal alike.
    retries = _burst(web, requests, threads=50)
    assert retries == answers


def test_one_key_sent_many_times_at_once_is_done_once(web, pos_key):
    template = CouponTemplateFactory()
    [coupon] = coupon_claim(
        customer_id=CustomerFactory().pk, campaign_id=template.campaign_id
    ).coupons
    answers = _burst(web, [_redeem_request(pos_key, coupon.code, "same")] * 20, threads=20)
    assert {status for status, _ in answers} == {201}
    assert len({json.dumps(body, sort_keys=True) for _, body in answers}) == 1
    assert Redemption.objects.filter(coupon_id=coupon.pk).count() == 1
    other = _burst(web, [_redeem_request(pos_key, coupon.code, "same", amount=30000)], threads=1)
    assert other[0][0] == 422 and other[0][1]["code"] == "idempotency_key_reused"


def test_claims_racing_the_expiry_job_never_leave_an_impossible_state(web, pos_key):
    """Redemptions and the expiry sweep at once: a coupon ends either redeemed or expired."""
    from campaigns.services.expiry import coupons_expire

    template = CouponTemplateFactory(total_stock=40, campaign__per_customer_limit=None)
    coupons = [
        coupon_claim(customer_id=CustomerFactory().pk, campaign_id=template.campaign_id).coupons[0]
        for _ in range(40)
    ]
    Coupon.objects.filter(template=template).update(
        valid_until=timezone.now() + timedelta(seconds=2)
    )
    time.sleep(1.5)

    def sweep():
        try:
            for _ in range(30):
                coupons_expire()
                time.sleep(0.05)
        finally:
            connections.close_all()  # this thread's own connection

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    answers = _burst(
        web, [_redeem_request(pos_key, c.code, f"r-{c.code}") for c in coupons], threads=40
    )
    sweeper.join()
    coupons_expire()
    redeemed = {body["code"] for status, body in answers if status == 201}
    statuses = dict(Coupon.objects.filter(template=template).values_list("code", "status"))
    assert {code for code, s in statuses.items() if s == "redeemed"} == redeemed
    assert set(statuses.values()) <= {"redeemed", "expired"}
    assert Redemption.objects.filter(coupon__template=template).count() == len(redeemed)
