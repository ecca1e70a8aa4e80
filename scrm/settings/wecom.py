"""WeCom: corp credentials, callback keys and the API base.

With no ``WECOM_API_BASE`` the app talks to the WeCom sandbox that ``make run``
starts; values from the environment always win over the demo defaults.
"""

from __future__ import annotations

from .env import env

WECOM_SANDBOX_PORT = env.int("WECOM_SANDBOX_PORT", default=8765)
WECOM_API_BASE = env.str(
    "WECOM_API_BASE", default=f"http://127.0.0.1:{WECOM_SANDBOX_PORT}/cgi-bin/"
)
WECOM_CORP_ID = env.str("WECOM_CORP_ID", default="ww_demo_corp")
WECOM_SECRET = env.str("WECOM_SECRET", default="demo-contact-secret")
WECOM_AGENT_ID = env.str("WECOM_AGENT_ID", default="1000002")
WECOM_TOKEN = env.str("WECOM_TOKEN", default="demoToken")
WECOM_AES_KEY = env.str("WECOM_AES_KEY", default="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
# Callbacks older or newer than this are refused (replay protection).
WECOM_CALLBACK_MAX_SKEW_S = env.int("WECOM_CALLBACK_MAX_SKEW_S", default=300)
WECOM_CALLBACK_MAX_BODY = env.int("WECOM_CALLBACK_MAX_BODY", default=64 * 1024)
