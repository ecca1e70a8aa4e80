"""The one environment reader for all settings modules.

Values come from the process environment or, for secrets, from ``NAME_FILE``
(docker secrets). Booleans are parsed strictly: anything other than the usual
true/false spellings is an error, not a silent ``False``.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.FileAwareEnv()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise environ.ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def var_dir() -> Path:
    """Where embedded services and runtime files live (``var/`` by default)."""
    return Path(os.environ.get("SCRM_VAR_DIR", BASE_DIR / "var")).resolve()
