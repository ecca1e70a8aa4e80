"""Payments (scrm.payments) and the payout ledger (campaigns.payouts).

With no ``PAYMENTS_API_BASE`` the app pays through the payment sandbox that
``make run`` starts; a real merchant sets the variables listed in the README
("Paying real red packets"). Values from the environment always win.
"""

from __future__ import annotations

from .env import env

# --- The channel (scrm.payments) ---------------------------------------------------------
# "workwx_redpack" (企业红包, sendworkwxredpack) or "transfer" (商家转账, documented second).
PAYMENTS_CHANNEL = env.str("PAYMENTS_CHANNEL", default="workwx_redpack")
PAYMENTS_SANDBOX_PORT = env.int("PAYMENTS_SANDBOX_PORT", default=8766)
PAYMENTS_API_BASE = env.str(
    "PAYMENTS_API_BASE", default=f"http://127.0.0.1:{PAYMENTS_SANDBOX_PORT}/"
)
PAYMENTS_MCH_ID = env.str("PAYMENTS_MCH_ID", default="1900000109")
# The merchant's API key (v2, 32 chars): signs every request (``sign``).
PAYMENTS_API_KEY = env.str("PAYMENTS_API_KEY", default="demo-merchant-api-key-32-chars!!")
# "MD5" or "HMAC-SHA256" for ``sign``.
PAYMENTS_SIGN_TYPE = env.str("PAYMENTS_SIGN_TYPE", default="MD5")
# The WeCom payment app's secret (企业支付 secret): signs ``workwx_sign``, separately.
PAYMENTS_WORKWX_SECRET = env.str("PAYMENTS_WORKWX_SECRET", default="demo-workwx-payment-secret")
# wxappid: the corp id (defaults to WECOM_CORP_ID); agentid of the payment app, or a sender name.
PAYMENTS_WXAPPID = env.str("PAYMENTS_WXAPPID", default="")
PAYMENTS_AGENT_ID = env.str("PAYMENTS_AGENT_ID", default="")
PAYMENTS_SENDER_NAME = env.str("PAYMENTS_SENDER_NAME", default="")
# The merchant certificate (PEM files): required by WeChat Pay for red packets.
PAYMENTS_CERT_FILE = env.str("PAYMENTS_CERT_FILE", default="")
PAYMENTS_KEY_FILE = env.str("PAYMENTS_KEY_FILE", default="")
PAYMENTS_HTTP_TIMEOUT_S = env.float("PAYMENTS_HTTP_TIMEOUT_S", default=10.0)
# WeChat Pay's limit on sendworkwxredpack, shared by every worker (a Redis token bucket).
PAYMENTS_RATE_PER_MIN = env.int("PAYMENTS_RATE_PER_MIN", default=1800)
# The rules a packet must meet (quoted defaults; a merchant's contract may differ).
PAYMENTS_MIN_FEN = env.int("PAYMENTS_MIN_FEN", default=100)
PAYMENTS_MAX_FEN = env.int("PAYMENTS_MAX_FEN", default=20000)
PAYMENTS_USER_DAILY_COUNT = env.int("PAYMENTS_USER_DAILY_COUNT", default=10)
PAYMENTS_USER_DAILY_FEN = env.int("PAYMENTS_USER_DAILY_FEN", default=100000)

# --- The payment sandbox -----------------------------------------------------------------
PAYMENTS_SANDBOX_RATE_PER_MIN = env.int("PAYMENTS_SANDBOX_RATE_PER_MIN", default=1800)
PAYMENTS_SANDBOX_BALANCE_FEN = env.int("PAYMENTS_SANDBOX_BALANCE_FEN", default=10_000_000_00)

# --- The ledger (campaigns.payouts) ------------------------------------------------------
# Sends before an entry is given up (its budget goes back to the campaign).
PAYOUTS_MAX_ATTEMPTS = env.int("PAYOUTS_MAX_ATTEMPTS", default=6)
PAYOUTS_RETRY_BASE_S = env.float("PAYOUTS_RETRY_BASE_S", default=60.0)
PAYOUTS_RETRY_MAX_S = env.float("PAYOUTS_RETRY_MAX_S", default=3600.0)
# A claimed entry not settled within this long is taken back (the worker died).
PAYOUTS_LEASE_S = env.float("PAYOUTS_LEASE_S", default=60.0)
# Entries claimed per transaction, and sends in flight per worker process.
PAYOUTS_BATCH = env.int("PAYOUTS_BATCH", default=100)
PAYOUTS_THREADS = env.int("PAYOUTS_THREADS", default=8)
# One run of the due-entry job works this long at most, then the next run goes on.
PAYOUTS_RUN_S = env.float("PAYOUTS_RUN_S", default=50.0)
PAYOUTS_DISPATCH_EVERY_S = env.float("PAYOUTS_DISPATCH_EVERY_S", default=60.0)
# Per customer per day (all campaigns), and for everything paid in a day (0: no cap).
PAYOUTS_CUSTOMER_DAILY_COUNT = env.int("PAYOUTS_CUSTOMER_DAILY_COUNT", default=10)
PAYOUTS_CUSTOMER_DAILY_FEN = env.int("PAYOUTS_CUSTOMER_DAILY_FEN", default=100000)
PAYOUTS_DAILY_BUDGET_FEN = env.int("PAYOUTS_DAILY_BUDGET_FEN", default=0)
