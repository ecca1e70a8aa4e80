"""A fake WeCom over real HTTP, with state, WeCom's rules, faults and real callbacks.

``SandboxServer`` runs in a thread (tests) or in the foreground
(``manage.py wecom_sandbox``); see docs/sandbox.md for the control API.
"""

from .server import SandboxServer
from .state import Sandbox, SandboxConfig

__all__ = ["Sandbox", "SandboxConfig", "SandboxServer"]
