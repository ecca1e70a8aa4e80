"""A fake WeChat Pay (red packets from WeCom) over real HTTP, with its rules and faults.

``PaymentSandboxServer`` runs in a thread (tests, benches) or in the foreground
(``manage.py payments_sandbox``, which ``make run`` starts).
"""

from .server import PaymentSandboxServer
from .state import PaymentSandbox, PaymentSandboxConfig

__all__ = ["PaymentSandbox", "PaymentSandboxConfig", "PaymentSandboxServer"]
