"""/healthz tells ops whether the whole system is up, naming what is not."""

import time

import pytest

from scrm.core.health import BEAT_HEARTBEAT_KEY, redis_client, system_health


@pytest.fixture
def staff_client(client, cast):
    client.force_login(cast.ops)
    return client


@pytest.mark.django_db
def test_healthz_without_worker_or_beat_is_503_and_names_them(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert set(body["failed"]) == {"worker", "beat"}, body


@pytest.mark.e2e
def test_healthz_is_200_with_a_live_worker_and_a_recent_beat_tick(
    staff_client, celery_worker_process
):
    from scrm.beat import HeartbeatScheduler

    # One real scheduler tick writes the heartbeat, as the beat process does.
    from scrm.celery import app

    scheduler = HeartbeatScheduler(app=app, lazy=True)
    scheduler.tick()
    response = staff_client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["checks"]["worker"]["workers"]
    assert body["checks"]["beat"]["last_tick_age_s"] < 5


@pytest.mark.django_db
def test_stale_beat_tick_is_unhealthy(staff_client):
    redis_client().set(BEAT_HEARTBEAT_KEY, str(time.time() - 600))
    body = staff_client.get("/healthz").json()
    assert "beat" in body["failed"]
    assert body["checks"]["beat"]["last_tick_age_s"] >= 600


@pytest.mark.django_db
def test_without_details_every_check_says_only_whether_it_is_ok():
    redis_client().set(BEAT_HEARTBEAT_KEY, str(time.time() - 600))
    healthy, checks = system_health(details=False)
    assert not healthy
    assert all(set(result) == {"ok"} for result in checks.values()), checks
    assert checks["database"] == checks["redis"] == {"ok": True}
    assert checks["worker"] == checks["beat"] == {"ok": False}
    _, full = system_health()
    assert full["beat"]["last_tick_age_s"] >= 600 and "workers" in full["worker"]


@pytest.mark.django_db
def test_staff_see_the_details_of_each_check(staff_client):
    body = staff_client.get("/healthz").json()
    assert body["checks"]["beat"] == {"ok": False, "error": "no tick seen"}
    assert body["checks"]["worker"] == {"ok": False, "workers": []}


@pytest.mark.django_db
def test_anonymous_callers_see_the_status_and_each_check_ok_or_not_but_no_details(client):
    body = client.get("/healthz").json()
    assert body["status"] == "fail" and set(body["failed"]) == {"worker", "beat"}
    assert all(set(result) == {"ok"} for result in body["checks"].values()), body
