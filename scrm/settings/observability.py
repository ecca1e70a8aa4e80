"""Observability: the Prometheus endpoint ``/metrics`` (django-prometheus, prometheus-client).

``METRICS_TOKEN``: when set, ``/metrics`` answers only requests carrying
``Authorization: Bearer <token>``; when empty, only clients on this machine
(loopback, not relayed by a proxy). Production must set it (docs/operations.md).

Under gunicorn the worker processes share their request metrics through files
in ``PROMETHEUS_MULTIPROC_DIR``, which ``scrm/gunicorn_conf.py`` sets (under the
var dir) and empties when the server starts. It is an environment variable, not
a setting: prometheus-client reads it when it is first imported.
"""

from __future__ import annotations

from .env import env

METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Request latency buckets (seconds) of django-prometheus' histograms: most pages and
# the webhook answer in milliseconds; WeCom drops a callback not answered within 5 s.
PROMETHEUS_LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, float("inf"),
)  # fmt: skip
