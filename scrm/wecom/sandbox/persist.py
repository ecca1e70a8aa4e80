"""The sandbox's state on disk, so a fake corp outlives a restart of ``make run``.

The app's database remembers the demo customers, groups and tags; WeCom does
too. Without this file a restarted sandbox would be an empty corp, and the
nightly reconcile would end every relation the database knows. The state is
written as JSON (atomically, at most once a second and only when it changed)
and read back at start. Logs of calls and callback deliveries are not kept.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, fields
from pathlib import Path

from .state import Fault, Sandbox, State

logger = logging.getLogger(__name__)

# State fields keyed by tuples: JSON keeps them as [key, value] pairs.
_TUPLE_KEYED = ("follows", "mass_received")
# Logs, not state: they grow with every call and a restart may forget them.
_NOT_KEPT = ("calls", "callbacks")


def state_dump(sandbox: Sandbox) -> str:
    with sandbox.lock:
        out: dict = {}
        for f in fields(State):
            if f.name in _NOT_KEPT:
                continue
            value = getattr(sandbox.state, f.name)
            if f.name in _TUPLE_KEYED:
                value = [[list(k), v] for k, v in value.items()]
            elif f.name == "faults":
                value = {k: [asdict(x) for x in v] for k, v in value.items()}
            out[f.name] = value
        return json.dumps({"version": 1, "state": out}, ensure_ascii=False, sort_keys=True)


def state_load(sandbox: Sandbox, text: str) -> None:
    data = json.loads(text)
    if data.get("version") != 1:
        raise ValueError(f"unknown sandbox state version {data.get('version')!r}")
    saved = data["state"]
    state = State()
    for f in fields(State):
        if f.name not in saved:
            continue
        value = saved[f.name]
        if f.name in _TUPLE_KEYED:
            value = {tuple(k): v for k, v in value}
        elif f.name == "faults":
            value = {k: [Fault(**x) for x in v] for k, v in value.items()}
        setattr(state, f.name, value)
    with sandbox.lock:
        sandbox.state = state


class StateFile:
    """Loads ``path`` into the sandbox at start and writes it back while running."""

    def __init__(self, sandbox: Sandbox, path: Path, interval_s: float = 1.0):
        self.sandbox = sandbox
        self.path = Path(path)
        self.interval_s = interval_s
        self._written = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self) -> bool:
        if not self.path.exists():
            return False
        text = self.path.read_text(encoding="utf-8")
        state_load(self.sandbox, text)
        self._written = state_dump(self.sandbox)
        return True

    def save(self) -> bool:
        text = state_dump(self.sandbox)
        if text == self._written:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._written = text
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.save()
            except Exception:  # keep serving; the next round tries again
                logger.exception("could not save the sandbox state to %s", self.path)

    def start(self) -> StateFile:
        self._thread = threading.Thread(target=self._run, name="sandbox-state", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.save()
