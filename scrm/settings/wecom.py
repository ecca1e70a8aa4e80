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

# --- Outbound API calls (scrm.wecom.client) -------------------------------------------
WECOM_HTTP_TIMEOUT_S = env.float("WECOM_HTTP_TIMEOUT_S", default=10.0)
# Retryable errcodes (-1, 45009, 45033, 6000, 41063), timeouts and 5xx: bounded retries.
WECOM_RETRY_MAX_ATTEMPTS = env.int("WECOM_RETRY_MAX_ATTEMPTS", default=5)
WECOM_RETRY_BASE_S = env.float("WECOM_RETRY_BASE_S", default=0.5)
WECOM_RETRY_MAX_S = env.float("WECOM_RETRY_MAX_S", default=8.0)
# Refresh the shared token this long before WeCom says it expires.
WECOM_TOKEN_REFRESH_MARGIN_S = env.int("WECOM_TOKEN_REFRESH_MARGIN_S", default=60)
# Corp-wide limits per API (WeCom allows 10,000/min per corp per API: keep a margin).
WECOM_RATE_PER_MIN = env.int("WECOM_RATE_PER_MIN", default=6000)
WECOM_RATE_BURST = env.int("WECOM_RATE_BURST", default=100)
WECOM_RATE_LIMITS: dict[str, int] = env.dict("WECOM_RATE_LIMITS", cast={"value": int}, default={})
WECOM_MAX_CONCURRENCY = env.int("WECOM_MAX_CONCURRENCY", default=16)
# After a 45009 the API is paused for WeCom's block period (60 s for the minute limit).
WECOM_RATE_BLOCK_S = env.float("WECOM_RATE_BLOCK_S", default=60.0)
# Longest a caller waits in-process for a slot before giving up with a retryable error.
WECOM_RATE_MAX_WAIT_S = env.float("WECOM_RATE_MAX_WAIT_S", default=90.0)

# --- Callback inbox (scrm.wecom.inbox) ------------------------------------------------
WECOM_INBOX_LEASE_S = env.int("WECOM_INBOX_LEASE_S", default=120)
# Waiting rows a drain claims with one statement (then runs one by one).
WECOM_INBOX_CLAIM_BATCH = env.int("WECOM_INBOX_CLAIM_BATCH", default=10)
WECOM_INBOX_MAX_ATTEMPTS = env.int("WECOM_INBOX_MAX_ATTEMPTS", default=6)
WECOM_INBOX_RETRY_BASE_S = env.float("WECOM_INBOX_RETRY_BASE_S", default=10.0)
# Rows still pending this long after arrival were lost by the broker: the sweeper re-sends.
WECOM_INBOX_SWEEP_AFTER_S = env.int("WECOM_INBOX_SWEEP_AFTER_S", default=30)
WECOM_INBOX_SWEEP_BATCH = env.int("WECOM_INBOX_SWEEP_BATCH", default=2000)
# Benchmark-only endpoints (a trivial "success" view to compare the webhook against).
SCRM_BENCH_ENDPOINTS = env.bool("SCRM_BENCH_ENDPOINTS", default=False)

# --- The sandbox (a fake WeCom for dev and tests) -------------------------------------
WECOM_SANDBOX_TOKEN_TTL_S = env.int("WECOM_SANDBOX_TOKEN_TTL_S", default=7200)
WECOM_SANDBOX_WELCOME_CODE_TTL_S = env.float("WECOM_SANDBOX_WELCOME_CODE_TTL_S", default=20.0)
WECOM_SANDBOX_GROUP_MAX = env.int("WECOM_SANDBOX_GROUP_MAX", default=500)
WECOM_SANDBOX_GROUP_QR_MAX = env.int("WECOM_SANDBOX_GROUP_QR_MAX", default=200)
WECOM_SANDBOX_MASS_MSG_PER_MONTH = env.int("WECOM_SANDBOX_MASS_MSG_PER_MONTH", default=0)
WECOM_SANDBOX_CORP_TAG_MAX = env.int("WECOM_SANDBOX_CORP_TAG_MAX", default=3000)
WECOM_SANDBOX_CALLBACK_TIMEOUT_S = env.float("WECOM_SANDBOX_CALLBACK_TIMEOUT_S", default=5.0)
WECOM_SANDBOX_CALLBACK_RETRIES = env.int("WECOM_SANDBOX_CALLBACK_RETRIES", default=3)
WECOM_SANDBOX_CALLBACK_RETRY_INTERVAL_S = env.float(
    "WECOM_SANDBOX_CALLBACK_RETRY_INTERVAL_S", default=1.0
)

# --- Reconcile safety (scrm.wecom.sync) -----------------------------------------------
# A run that would end more than this share of the active relations, groups or staff,
# and at least WECOM_SYNC_MIN_REMOVAL_ROWS of them, stops and waits for ops to confirm.
WECOM_SYNC_MAX_REMOVAL_SHARE = env.float("WECOM_SYNC_MAX_REMOVAL_SHARE", default=0.05)
WECOM_SYNC_MIN_REMOVAL_ROWS = env.int("WECOM_SYNC_MIN_REMOVAL_ROWS", default=50)
