"""The Prometheus endpoint's figures: request metrics plus figures read at scrape time.

Request latency and errors by view and method come from django-prometheus'
middleware. Under gunicorn every worker process writes them to files in
``PROMETHEUS_MULTIPROC_DIR`` (``scrm/gunicorn_conf.py`` sets it up) and the
worker that answers a scrape adds them all up; without that variable (tests,
``runserver``) the process's own registry is served.

Figures about the data (the callback inbox, WeCom calls, SOP sends, …) are read
when Prometheus scrapes, from **sources**: core imports no app, so each app
registers its sources from its ``AppConfig.ready()``::

    metrics.register_source(
        "payouts",
        metrics.status_counts(
            "scrm_payouts", "Payouts by state", model=Payout, statuses=[...]
        ),
    )

A source is one or more collect functions, each yielding metric families.
The builders below cover the usual shapes with one or two indexed queries.
Every source runs on its own: one that fails is logged and reported as
``scrm_metrics_source_up{source="…"} 0``, and the scrape still answers.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import redis
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django_prometheus import middleware as django_prometheus
from django_prometheus.utils import Time
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

Collect = Callable[[], Iterable[Metric]]

# name → the collect functions of that source, run together (all or nothing).
SOURCES: dict[str, tuple[Collect, ...]] = {}


def register_source(name: str, *collects: Collect) -> None:
    """Add (or replace) the source ``name``; call it from an ``AppConfig.ready()``."""
    if not collects:
        raise ValueError("a metrics source needs at least one collect function")
    SOURCES[name] = collects


# --------------------------------------------------------------------------- requests


class PrometheusAfterMiddleware(django_prometheus.PrometheusAfterMiddleware):
    """django-prometheus' inner middleware, minus its 500 for a Content-Length that is
    not a number: such a request (a probe at the webhook, say) is for the view to refuse."""

    def process_request(self, request: HttpRequest) -> None:
        try:
            super().process_request(request)
        except ValueError:
            # Raised reading the body size, its last step but the timer: count it as empty.
            self.label_metric(self.metrics.requests_body_bytes, request).observe(0)
            request.prometheus_after_middleware_event = Time()


# --------------------------------------------------------------------------- access


# Headers a reverse proxy adds: a request that carries one came from elsewhere,
# even if the proxy runs on this host and connects from 127.0.0.1.
_FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-Ip")


def _from_loopback(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if not address.is_loopback:
        return False
    return not any(request.headers.get(name) for name in _FORWARDED)


def _bearer(request: HttpRequest) -> str:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def metrics_refusal(request: HttpRequest) -> int | None:
    """The HTTP status to refuse this scrape with, or None when it may read the figures.

    With ``METRICS_TOKEN`` set, only ``Authorization: Bearer <token>`` is let in
    (401 otherwise, from anywhere). Without it, only clients on this machine
    (loopback, not relayed by a proxy) are; everyone else gets 403.
    """
    token = settings.METRICS_TOKEN
    if token:
        given = _bearer(request)
        return None if hmac.compare_digest(given.encode(), token.encode()) else 401
    return None if _from_loopback(request) else 403


# --------------------------------------------------------------------------- the scrape


class _Forward:
    """This process's own registry (single-process mode), inside a per-scrape registry."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class SourcesCollector:
    """Runs every registered source; a failing one is reported down, never raised.

    Once the database proves unreachable, the remaining sources that read it are
    reported down without trying: each attempt would wait for the connect timeout,
    and the scrape must answer before Prometheus gives up on it.
    """

    def __init__(self, sources: dict[str, tuple[Collect, ...]] | None = None):
        self.sources = SOURCES if sources is None else sources

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "scrm_metrics_source_up",
            "Whether a metrics source answered at the last scrape (1) or failed (0)",
            labels=["source"],
        )
        took = GaugeMetricFamily(
            "scrm_metrics_source_duration_seconds",
            "How long a metrics source took at the last scrape",
            labels=["source"],
        )
        database_down = False
        for name, collects in list(self.sources.items()):
            started = time.perf_counter()
            if database_down and any(getattr(c, "uses_database", False) for c in collects):
                up.add_metric([name], 0)
                continue
            try:
                families = _run(collects)
            except Exception as exc:
                logger.exception("metrics source failed", extra={"source": name})
                up.add_metric([name], 0)
                database_down = database_down or isinstance(exc, OperationalError | InterfaceError)
            else:
                up.add_metric([name], 1)
                yield from families
            took.add_metric([name], time.perf_counter() - started)
        yield up
        yield took


def _run(collects: tuple[Collect, ...]) -> list[Metric]:
    # Inside a transaction (tests, a caller's atomic block) a failed query must not
    # break what follows: each source then runs in a savepoint of its own.
    guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with guard:
        return [family for collect in collects for family in collect()]


def metrics_render() -> bytes:
    """The exposition text: request metrics of every web process, then the sources."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward())
    registry.register(SourcesCollector())
    return generate_latest(registry)


# --------------------------------------------------------------------------- builders


class Recent(NamedTuple):
    """Statuses counted only among rows whose ``field`` is at most ``window`` old."""

    field: str
    window: timedelta
    statuses: Sequence[str]


def _label(value: Any) -> str:
    return "none" if value is None else str(value)


def _reads_database(collect: Collect) -> Collect:
    """Mark a collect function as one that queries the database (a source of your own
    can set ``uses_database = True`` the same way)."""
    collect.uses_database = True  # type: ignore[attr-defined]
    return collect


def status_counts(
    name: str,
    documentation: str,
    *,
    model: type[Model],
    statuses: Sequence[str],
    recent: Recent | None = None,
    field: str = "status",
) -> Collect:
    """A gauge of rows by status.

    ``statuses`` are counted among all rows, one ``WHERE status = …`` per status
    (so a plain index on the field and partial indexes per status both serve),
    in one statement. Statuses that pile up forever (sent, done, …) belong in
    ``recent``: counted only for rows young enough by an indexed field. Every
    status named is reported, zero when no row has it.
    """

    def collect() -> Iterable[Metric]:
        counts = dict.fromkeys([*statuses, *(recent.statuses if recent else ())], 0)
        manager = model._default_manager

        def by_status(rows: QuerySet) -> QuerySet:
            return rows.order_by().values(field).annotate(n=Count("pk"))

        parts = [by_status(manager.filter(**{field: status})) for status in statuses]
        if recent is not None and recent.statuses:
            since = timezone.now() - recent.window
            young = manager.filter(
                **{f"{recent.field}__gte": since, f"{field}__in": list(recent.statuses)}
            )
            parts.append(by_status(young))
        if parts:
            rows = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
            for row in rows:
                counts[row[field]] = counts.get(row[field], 0) + row["n"]
        family = GaugeMetricFamily(name, documentation, labels=[field])
        for status, n in counts.items():
            family.add_metric([_label(status)], n)
        yield family

    return _reads_database(collect)


def oldest_age(name: str, documentation: str, *, rows: QuerySet, field: str) -> Collect:
    """A gauge of how old (seconds) the first of ``rows`` is by ``field``; 0 when none.

    ``rows`` must be ordered by an indexed column so this reads one index entry.
    """

    def collect() -> Iterable[Metric]:
        first = rows.all().values_list(field, flat=True).first()
        age = max(0.0, (timezone.now() - first).total_seconds()) if first else 0.0
        yield GaugeMetricFamily(name, documentation, value=age)

    return _reads_database(collect)


def recent_counts(
    name: str,
    documentation: str,
    *,
    model: type[Model],
    time_field: str,
    window: timedelta,
    labels: Sequence[str],
) -> Collect:
    """A gauge of the rows of the last ``window`` (by an indexed ``time_field``) by ``labels``.

    A missing value (NULL) is labelled ``none``.
    """

    def collect() -> Iterable[Metric]:
        since = timezone.now() - window
        rows = (
            model._default_manager.filter(**{f"{time_field}__gte": since})
            .order_by()
            .values(*labels)
            .annotate(n=Count("pk"))
        )
        family = GaugeMetricFamily(name, documentation, labels=list(labels))
        for row in rows:
            family.add_metric([_label(row[label]) for label in labels], row["n"])
        yield family

    return _reads_database(collect)


# --------------------------------------------------------------------------- Celery


def _redis_url_from_broker(url: str) -> str:
    """Celery's ``redis+socket://PATH?virtual_host=N`` as redis-py's ``unix://PATH?db=N``."""
    parts = urlsplit(url)
    if parts.scheme == "redis+socket":
        db = dict(parse_qsl(parts.query)).get("virtual_host", "0") or "0"
        return f"unix://{parts.path}?db={db}"
    return url


@lru_cache(maxsize=4)
def _broker_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        _redis_url_from_broker(url), socket_timeout=2, socket_connect_timeout=2
    )


def _queue_names(conf: Any) -> list[str]:
    names = {conf.task_default_queue}
    for queue in conf.task_queues or ():
        names.add(queue.name)
    routes = conf.task_routes
    if isinstance(routes, dict):
        names.update(r["queue"] for r in routes.values() if isinstance(r, dict) and "queue" in r)
    return sorted(names)


def celery_queue_lengths() -> Iterable[Metric]:
    """Messages waiting in each Celery queue on the Redis broker, and those taken but unacked.

    Read straight from Redis with short timeouts (a kombu connection would retry
    a broker outage for as long as it lasts). A queue is one Redis list per
    priority step, named as kombu's Redis transport names them.
    """
    from kombu.transport.redis import Channel

    from scrm.celery import app

    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}
    prefix = options.get("global_keyprefix", "")
    sep = options.get("sep", Channel.sep)
    steps = options.get("priority_steps", Channel.priority_steps)
    unacked_key = options.get("unacked_key", Channel.unacked_key)
    queues = _queue_names(app.conf)
    client = _broker_client(settings.CELERY_BROKER_URL)
    with client.pipeline(transaction=False) as pipe:
        for queue in queues:
            for step in steps:
                pipe.llen(f"{prefix}{queue}{sep}{step}" if step else f"{prefix}{queue}")
        pipe.hlen(f"{prefix}{unacked_key}")
        replies = pipe.execute()
    family = GaugeMetricFamily(
        "scrm_celery_queue_length", "Celery messages waiting in a queue", labels=["queue"]
    )
    for i, queue in enumerate(queues):
        family.add_metric([queue], sum(replies[i * len(steps) : (i + 1) * len(steps)]))
    yield family
    yield GaugeMetricFamily(
        "scrm_celery_unacked_messages",
        "Celery messages a worker has taken and not yet acknowledged",
        value=replies[-1],
    )


register_source("celery", celery_queue_lengths)
