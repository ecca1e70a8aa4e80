"""/healthz tells ops whether the whole system is up, naming what is not."""

import time

import pytest

from scrm.core.health import BEAT_HEARTBEAT_KEY, redis_client


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
def test_healthz_is_200_with_a_live_worker_and_a_recent_beat_tick(client, celery_worker_process):
    from scrm.beat import HeartbeatScheduler

    # One real scheduler tick writes the heartbeat, as the beat process does.
    from scrm.celery import app

    scheduler = HeartbeatScheduler(app=app, lazy=True)
    scheduler.tick()
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["checks"]["worker"]["workers"]
    assert body["checks"]["beat"]["last_tick_age_s"] < 5


@pytest.mark.django_db
def test_stale_beat_tick_is_unhealthy(client):
    redis_client().set(BEAT_HEARTBEAT_KEY, str(time.time() - 600))
    body = client.get("/healthz").json()
    assert "beat" in body["failed"]
    assert body["checks"]["beat"]["last_tick_age_s"] >= 600
