"""The files a bank deploys with: docker-compose.yml and the Dockerfile."""

from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def test_compose_runs_postgres_redis_web_worker_and_beat_with_health_checks():
    services = _compose()["services"]
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert name in services, name
        assert "healthcheck" in services[name], name
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert "gunicorn" in (BASE_DIR / "Dockerfile").read_text()
    assert services["worker"]["command"][:4] == ["celery", "-A", "scrm", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "scrm", "beat"]


def test_compose_keeps_data_in_named_volumes_and_secrets_in_an_env_file():
    compose = _compose()
    assert {"pgdata", "redisdata"} <= set(compose["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]
    for name in ("web", "worker", "beat"):
        service = compose["services"][name]
        assert service["env_file"] == ".env"
        assert service["environment"]["DJANGO_SETTINGS_MODULE"] == "scrm.settings.production"
    text = (BASE_DIR / "docker-compose.yml").read_text()
    assert "SECRET_KEY=" not in text and "POSTGRES_PASSWORD:?" in text


def test_compose_redis_never_evicts_broker_keys():
    command = _compose()["services"]["redis"]["command"]
    assert "noeviction" in command
    assert "--appendonly" in command


def test_env_example_names_every_secret_without_values():
    example = (BASE_DIR / ".env.example").read_text().splitlines()
    values = dict(line.split("=", 1) for line in example if line and not line.startswith("#"))
    for key in ("SECRET_KEY", "POSTGRES_PASSWORD", "WECOM_SECRET", "WECOM_AES_KEY"):
        assert key in values and values[key] == "", key
    assert not (BASE_DIR / ".env").exists() or ".env" in (BASE_DIR / ".gitignore").read_text()


def test_compose_workers_consume_every_queue_and_callbacks_have_their_own():
    from django.conf import settings

    services = _compose()["services"]
    consumed: dict[str, set[str]] = {}
    for name, service in services.items():
        command = service.get("command") or []
        if command[:4] == ["celery", "-A", "scrm", "worker"]:
            queues = command[command.index("-Q") + 1].split(",")
            consumed[name] = set(queues)
    assert set().union(*consumed.values()) == set(settings.SCRM_QUEUES)
    # A report or a burst of events never sits in front of a callback.
    callbacks = [name for name, queues in consumed.items() if "callbacks" in queues]
    assert callbacks == ["worker-callbacks"]
    assert not consumed["worker-callbacks"] & {"reports", "tagging", "outreach"}
