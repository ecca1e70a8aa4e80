"""Gunicorn settings of `make run` and the container: Prometheus multiprocess mode.

    gunicorn -c scrm/gunicorn_conf.py scrm.wsgi --bind … --workers …

Every worker process writes its request metrics to files in
``PROMETHEUS_MULTIPROC_DIR`` (``var/prometheus`` unless set), and the worker
that answers ``/metrics`` adds them all up. The directory is emptied when the
server starts, before any worker: a previous run's files would otherwise be
added to this run's, and process ids repeat (always, in a restarted container).

Loaded as a file, not imported as ``scrm.gunicorn_conf``: importing the package
would set up the Celery app in the master process, which serves no request.
"""

from __future__ import annotations

import os
from pathlib import Path

# As scrm.settings.env.var_dir() says, without importing the package.
_VAR_DIR = Path(os.environ.get("SCRM_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
# Set before any worker imports prometheus-client, which reads it on import.
METRICS_DIR = Path(
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_VAR_DIR.resolve() / "prometheus"))
)


def on_starting(server) -> None:
    METRICS_DIR.mkdir(parents=True, exist_ok=True)
    for stale in METRICS_DIR.glob("*.db"):
        stale.unlink(missing_ok=True)


def child_exit(server, worker) -> None:
    """A worker is gone: drop its live gauges; its counters stay in the totals."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(METRICS_DIR))
