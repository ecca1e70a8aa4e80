"""Local development and ``make run``: the embedded stack and the WeCom sandbox."""

from .base import *  # noqa: F403
from .env import env_bool

DEBUG = env_bool("DEBUG", True)
