"""GET /metrics: Prometheus figures for the scraper only, request metrics shared by the
gunicorn workers, and figures about the data read at scrape time from the apps' sources."""

from __future__ import annotations

import importlib
import json
import os
import re
import socket
import subprocess
import time
from datetime import date, timedelta
from datetime import time as clock
from pathlib import Path

import psutil
import pytest
import requests
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from groups.sop import push as sop_push
from groups.sop import services as sop_services
from groups.sop.models import SopPlan
from scrm.core import metrics
from scrm.wecom import dispatch
from scrm.wecom.adapter import wecom
from scrm.wecom.inbox import inbox_event_process, inbox_event_store
from scrm.wecom.models import ApiCall, InboxEvent
from tests.conftest import child_env
from tests.factories import CustomerGroupFactory, GroupPoolFactory, StaffFactory

BASE_DIR = Path(__file__).resolve().parents[2]
OUTSIDE = "10.20.30.40"


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/plain; version=")
    return _samples(response.content.decode())


def value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


# --------------------------------------------------------------------------- access


@pytest.mark.django_db
def test_without_a_token_only_this_machine_may_scrape(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="2001:db8::7").status_code == 403
    # A reverse proxy on this host relays the public from 127.0.0.1: not "this machine".
    relayed = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OUTSIDE)
    assert relayed.status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


@pytest.mark.django_db
def test_with_a_token_only_its_bearer_may_scrape_from_anywhere(client, settings):
    settings.METRICS_TOKEN = "scrape-token-0123456789"
    for headers in (
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong-token"},
        {"HTTP_AUTHORIZATION": "Basic c2NyYXBlLXRva2VuLTAxMjM0NTY3ODk="},
        {"HTTP_AUTHORIZATION": "Bearer scrape-token-012345678"},
    ):
        refused = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **headers)
        assert refused.status_code == 401, headers
        assert refused["WWW-Authenticate"].startswith("Bearer")
        assert b"scrm_" not in refused.content
    ok = client.get(
        "/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer scrape-token-0123456789"
    )
    assert ok.status_code == 200 and b"scrm_metrics_source_up" in ok.content


def test_the_token_comes_from_the_environment_or_a_docker_secret_file(monkeypatch, tmp_path):
    from scrm.settings import observability

    try:
        monkeypatch.setenv("METRICS_TOKEN", "from-env")
        assert importlib.reload(observability).METRICS_TOKEN == "from-env"
        monkeypatch.delenv("METRICS_TOKEN")
        secret = tmp_path / "metrics_token"
        secret.write_text("from-file")
        monkeypatch.setenv("METRICS_TOKEN_FILE", str(secret))
        assert importlib.reload(observability).METRICS_TOKEN == "from-file"
    finally:
        monkeypatch.undo()
        importlib.reload(observability)


def test_healthz_is_unchanged_and_open_to_probes(client, db):
    response = client.get("/healthz?only=database", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 200 and response.json()["status"] == "ok"


# --------------------------------------------------------------------------- request metrics


@pytest.mark.django_db
def test_a_request_shows_in_the_request_rate_latency_and_status_metrics(client):
    labels = {"view": "healthz", "method": "GET"}
    before = scrape(client)
    client.get("/healthz?only=database")
    client.post("/healthz")  # 405: answered, counted under its status
    after = scrape(client)

    def delta(name, **extra):
        return (value(after, name, **extra) or 0) - (value(before, name, **extra) or 0)

    requests_total = "django_http_requests_total_by_view_transport_method_total"
    assert delta(requests_total, transport="http", **labels) == 1
    latency = "django_http_requests_latency_seconds_by_view_method_count"
    assert delta(latency, **labels) == 1
    assert delta(latency, view="healthz", method="POST") == 1
    responses = "django_http_responses_total_by_status_view_method_total"
    assert delta(responses, status="200", **labels) == 1
    assert delta(responses, status="405", view="healthz", method="POST") == 1


@pytest.mark.django_db
def test_a_request_with_a_content_length_that_is_no_number_is_counted_not_failed(client):
    """django-prometheus alone answers it 500; the view decides (here: healthz, 200)."""
    name = "django_http_requests_latency_seconds_by_view_method_count"
    before = value(scrape(client), name, view="healthz", method="GET") or 0
    response = client.get("/healthz?only=database", CONTENT_LENGTH="lots")
    assert response.status_code == 200
    assert value(scrape(client), name, view="healthz", method="GET") == before + 1


# --------------------------------------------------------------------------- the data


def _fail_permanently(fields: dict) -> None:
    raise ValueError("a payload this handler cannot read")


@pytest.mark.django_db
def test_the_inbox_gauges_count_waiting_and_dead_events_and_the_lag(client, monkeypatch):
    monkeypatch.setitem(
        dispatch.HANDLERS, ("test_metrics", "broken"), "tests.core.test_metrics:_fail_permanently"
    )
    first = scrape(client)
    assert value(first, "scrm_wecom_inbox_events", status="dead") == 0
    assert value(first, "scrm_wecom_inbox_lag_seconds") == 0

    dead = inbox_event_store(fields={"Event": "test_metrics", "ChangeType": "broken", "N": "1"})
    assert inbox_event_process(event_id=dead).status == InboxEvent.Status.DEAD
    waiting = inbox_event_store(fields={"Event": "test_metrics", "ChangeType": "x", "N": "2"})
    inbox_event_store(fields={"Event": "test_metrics", "ChangeType": "x", "N": "3"})
    # The first waiting event arrived two minutes ago (the worker is behind).
    InboxEvent.objects.filter(id=waiting).update(received_at=timezone.now() - timedelta(minutes=2))

    samples = scrape(client)
    assert value(samples, "scrm_wecom_inbox_events", status="dead") == 1
    assert value(samples, "scrm_wecom_inbox_events", status="pending") == 2
    assert value(samples, "scrm_wecom_inbox_events", status="processing") == 0
    assert 120 <= value(samples, "scrm_wecom_inbox_lag_seconds") < 180
    assert value(samples, "scrm_metrics_source_up", source="wecom_inbox") == 1


@pytest.mark.django_db
def test_wecom_calls_of_the_last_five_minutes_are_counted_by_endpoint_and_errcode(
    client, wecom_sandbox
):
    wecom_sandbox.seed_staff("lina")
    wecom_sandbox.fault("externalcontact/get_follow_user_list", errcode=-1, times=1)
    assert wecom.follow_users() == ["lina"]  # busy once, then answered
    old = ApiCall.objects.create(endpoint="externalcontact/get_follow_user_list", errcode=-1)
    ApiCall.objects.filter(id=old.id).update(at=timezone.now() - timedelta(minutes=6))

    samples = scrape(client)
    name = "scrm_wecom_api_calls_last_5m"
    endpoint = "externalcontact/get_follow_user_list"
    assert value(samples, name, endpoint=endpoint, errcode="-1") == 1
    assert value(samples, name, endpoint=endpoint, errcode="0") == 1
    assert value(samples, name, endpoint="gettoken", errcode="0") == 1


@pytest.fixture
def sop_send_due_now(cast, approved, wecom_sandbox):
    """One owner with two groups in WeCom, and a slot due this minute, expanded."""
    owner = StaffFactory(userid="owner_m", name="孟")
    wecom_sandbox.seed_staff(owner.userid)
    pool = GroupPoolFactory()
    for i in range(2):
        with wecom_sandbox.sandbox.lock:
            chat = wecom_sandbox.sandbox.chat_create(owner=owner.userid, name=f"福利群{i}")
        CustomerGroupFactory(chat_id=chat["chat_id"], name=f"福利群{i}", owner=owner, pool=pool)
    now = timezone.localtime()
    plan = SopPlan.objects.create(
        name="周历", start_date=date(2026, 1, 1), active_since=now - timedelta(hours=1)
    )
    plan.target_pools.add(pool)
    sop_services.sop_slot_create(
        plan=plan, content_id=approved.pk, at=clock(now.hour, now.minute), weekday=None
    )
    [occurrence_id] = sop_services.sop_tick(now=now + timedelta(seconds=59 - now.second))
    sop_services.sop_occurrence_expand(occurrence_id=occurrence_id)
    return plan.occurrences.get()


@pytest.mark.django_db
def test_sop_gauges_follow_deliveries_and_pushes_through_their_statuses(client, sop_send_due_now):
    samples = scrape(client)
    assert value(samples, "scrm_sop_deliveries", status="pending") == 2
    assert value(samples, "scrm_sop_deliveries", status="sent") == 0
    assert value(samples, "scrm_sop_pushes", status="pending") == 0

    [push_id] = sop_push.sop_pushes_create(occurrence=sop_send_due_now)
    assert value(scrape(client), "scrm_sop_pushes", status="pending") == 1
    assert sop_push.sop_push_send(push_id=push_id)

    samples = scrape(client)
    assert value(samples, "scrm_sop_deliveries", status="pending") == 0
    assert value(samples, "scrm_sop_deliveries", status="awaiting_confirm") == 2
    assert value(samples, "scrm_sop_pushes", status="pending") == 0
    assert value(samples, "scrm_sop_pushes", status="awaiting_confirm") == 1
    assert value(samples, "scrm_metrics_source_up", source="sop_deliveries") == 1
    assert value(samples, "scrm_metrics_source_up", source="sop_pushes") == 1


@pytest.mark.django_db
def test_finished_sop_work_of_older_sends_is_not_counted(client, sop_send_due_now):
    [push_id] = sop_push.sop_pushes_create(occurrence=sop_send_due_now)
    sop_push.sop_push_send(push_id=push_id)
    type(sop_send_due_now).objects.filter(pk=sop_send_due_now.pk).update(
        send_at=timezone.now() - timedelta(days=2)
    )
    samples = scrape(client)
    assert value(samples, "scrm_sop_deliveries", status="awaiting_confirm") == 0
    assert value(samples, "scrm_sop_pushes", status="awaiting_confirm") == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "source", ["wecom_inbox", "wecom_api_calls", "sop_deliveries", "sop_pushes"]
)
def test_each_source_reads_indexes_only(source):
    """A scrape must stay cheap on years of history: with sequential scans made
    prohibitive, every statement of every source still has an index to use."""
    with CaptureQueriesContext(connection) as queries:
        for collect in metrics.SOURCES[source]:
            list(collect())
    assert 1 <= len(queries.captured_queries) <= 2
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in queries.captured_queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan" not in plan, plan


@pytest.mark.django_db
def test_celery_queue_depth_is_read_from_the_broker(client):
    from scrm.celery import app

    assert value(scrape(client), "scrm_celery_queue_length", queue="celery") == 0
    for _ in range(3):
        app.send_task("tests.metrics.nobody_runs_this")
    samples = scrape(client)
    assert value(samples, "scrm_celery_queue_length", queue="celery") == 3
    assert value(samples, "scrm_celery_unacked_messages") == 0


def _broken_source():
    raise RuntimeError("the figures are not there")


def _broken_query():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM no_such_table")
    return []


@pytest.mark.django_db
def test_a_failing_source_reports_down_and_the_scrape_still_answers(client, monkeypatch, caplog):
    monkeypatch.setitem(metrics.SOURCES, "broken", (_broken_source,))
    monkeypatch.setitem(metrics.SOURCES, "broken_sql", (_broken_query,))
    samples = scrape(client)
    assert value(samples, "scrm_metrics_source_up", source="broken") == 0
    assert value(samples, "scrm_metrics_source_up", source="broken_sql") == 0
    # The others, after it too, still report (a failed query left the connection usable).
    for source in ("wecom_inbox", "wecom_api_calls", "sop_deliveries", "sop_pushes", "celery"):
        assert value(samples, "scrm_metrics_source_up", source=source) == 1, source
    assert value(samples, "scrm_wecom_inbox_events", status="dead") == 0
    assert "metrics source failed" in caplog.text


def _database_unreachable():
    raise OperationalError('connection to server on socket "/nowhere" failed')


@pytest.mark.django_db
def test_once_the_database_is_unreachable_the_other_database_sources_are_not_tried():
    """Each try would wait for the connect timeout, and Prometheus gives up on a slow
    scrape: sources that read the database are reported down at once, Redis still read."""
    collector = metrics.SourcesCollector(
        {
            "first": (_database_unreachable,),
            "wecom_inbox": metrics.SOURCES["wecom_inbox"],
            "celery": metrics.SOURCES["celery"],
        }
    )
    with CaptureQueriesContext(connection) as queries:
        families = {family.name: family for family in collector.collect()}
    sent = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert sent == []
    up = {s.labels["source"]: s.value for s in families["scrm_metrics_source_up"].samples}
    assert up == {"first": 0, "wecom_inbox": 0, "celery": 1}
    assert "scrm_wecom_inbox_events" not in families
    assert "scrm_celery_queue_length" in families


# --------------------------------------------------------------------------- the dashboard


@pytest.mark.django_db
def test_every_metric_the_sample_dashboard_plots_is_served(client):
    dashboard = json.loads((BASE_DIR / "docs" / "grafana-dashboard.json").read_text())
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus"
    client.get("/healthz?only=database")
    client.get("/no-such-page/")  # a 404, so response status series exist
    text = client.get("/metrics").content.decode()
    served = set(re.findall(r"^# TYPE (\S+)", text, re.M)) | {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert exprs
    used = {name for expr in exprs for name in re.findall(r"\b(?:scrm|django)_\w+", expr)}
    assert used and used <= served, used - served


# --------------------------------------------------------------------------- gunicorn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.e2e
def test_gunicorn_workers_add_up_their_request_metrics(transactional_db, tmp_path):
    """Under gunicorn (as `make run` and the container start it) whichever worker
    answers the scrape reports the requests of all of them; files a previous run
    left are gone at start."""
    from scrm import devstack

    stale = tmp_path / "var" / "prometheus" / "counter_4242.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by a previous run")
    port = _free_port()
    env = child_env(SCRM_VAR_DIR=str(tmp_path / "var"))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("METRICS_TOKEN", None)
    log = tmp_path / "gunicorn.log"
    proc = subprocess.Popen(  # noqa: S603
        devstack.web_argv(host="127.0.0.1", port=port, workers=3),
        cwd=BASE_DIR,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            try:  # a worker still loading the app may take its time on a busy machine
                if requests.get(f"{base}/metrics", timeout=10).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        metrics_dir = tmp_path / "var" / "prometheus"

        def worker_pids() -> set[str]:
            return {re.sub(r"\D", "", p.name) for p in metrics_dir.glob("counter_*.db")}

        while len(worker_pids()) < 3:  # every worker has loaded the app
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        assert "4242" not in worker_pids()
        for _ in range(12):  # spread over the workers
            assert requests.get(f"{base}/healthz?only=database", timeout=30).ok
        key = (
            "django_http_requests_total_by_view_transport_method_total",
            (("method", "GET"), ("transport", "http"), ("view", "healthz")),
        )
        for _ in range(6):  # new connections: the kernel hands them to any worker
            text = requests.get(f"{base}/metrics", timeout=30).text
            samples = _samples(text)
            assert samples.get(key) == 12, text[:2000]
            assert samples[("scrm_metrics_source_up", (("source", "wecom_inbox"),))] == 1
        # A worker that dies takes nothing with it: the master starts another, and
        # the dead one's requests still count.
        victim = psutil.Process(proc.pid).children()[0]
        victim.kill()
        while len(worker_pids()) < 4:
            assert time.monotonic() < deadline + 60, log.read_text()[-3000:]
            time.sleep(0.2)
        for _ in range(3):
            assert _samples(requests.get(f"{base}/metrics", timeout=30).text).get(key) == 12
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(20)
