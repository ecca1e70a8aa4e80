"""The payment adapter: ``from scrm.payments.adapter import payments``.

One object for the ledger to pay through: ``send`` (paced merchant-wide at
``PAYMENTS_RATE_PER_MIN`` so the fleet stays under WeChat Pay's limit), ``query``,
and ``openid_for`` (a customer's payment openid, from WeCom once, then kept). The
channel follows the settings (``PAYMENTS_CHANNEL``); tests repoint it.
"""

from __future__ import annotations

import threading

from django.conf import settings

from .channels import (
    Outcome,
    PaymentChannel,
    PaymentResult,
    PayoutRequest,
    RedPackConfig,
    WorkWxRedPackChannel,
)
from .ratelimit import CallPacer

CHANNELS: dict[str, type] = {WorkWxRedPackChannel.name: WorkWxRedPackChannel}


class Payments:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[tuple, PaymentChannel] = {}
        self._pacers: dict[tuple, CallPacer] = {}

    @property
    def channel(self) -> PaymentChannel:
        config = RedPackConfig.from_settings()
        key = (settings.PAYMENTS_CHANNEL, *vars(config).values())
        channel = self._channels.get(key)
        if channel is None:
            cls = CHANNELS.get(settings.PAYMENTS_CHANNEL)
            if cls is None:
                raise ValueError(f"unknown PAYMENTS_CHANNEL {settings.PAYMENTS_CHANNEL!r}")
            with self._lock:
                channel = self._channels.setdefault(key, cls(config))
        return channel

    @property
    def pacer(self) -> CallPacer:
        from scrm.core.health import redis_client

        key = (settings.REDIS_URL, settings.PAYMENTS_MCH_ID, settings.PAYMENTS_RATE_PER_MIN)
        pacer = self._pacers.get(key)
        if pacer is None:
            with self._lock:
                pacer = self._pacers.setdefault(
                    key,
                    CallPacer(
                        redis_client(),
                        name=f"{settings.PAYMENTS_MCH_ID}:send",
                        per_min=settings.PAYMENTS_RATE_PER_MIN,
                    ),
                )
        return pacer

    def send(self, request: PayoutRequest, *, max_wait_s: float = 60.0) -> PaymentResult:
        """Pay ``request`` once; waits for the merchant's rate (not sent if it takes too long)."""
        if not self.pacer.acquire(max_wait_s=max_wait_s):
            return PaymentResult(
                Outcome.RETRY, "LOCAL_RATE", "merchant rate limit", retry_after_s=5.0
            )
        return self.channel.send(request)

    def query(self, bill_no: str) -> PaymentResult:
        return self.channel.query(bill_no)

    def openid_for(self, external_userid: str) -> str:
        """The customer's payment openid; from WeCom (``convert_to_openid``) the first time.

        Raises :class:`scrm.wecom.errors.WeComError` when WeCom has none (not a WeChat user)."""
        from scrm.wecom.adapter import wecom

        from .models import PaymentOpenId

        known = (
            PaymentOpenId.objects.filter(external_userid=external_userid)
            .values_list("openid", flat=True)
            .first()
        )
        if known:
            return known
        openid = wecom.openid_for(external_userid)
        PaymentOpenId.objects.get_or_create(
            external_userid=external_userid, defaults={"openid": openid}
        )
        return openid

    def openids_known(self, external_userids: list[str]) -> dict[str, str]:
        from .models import PaymentOpenId

        return dict(
            PaymentOpenId.objects.filter(external_userid__in=external_userids).values_list(
                "external_userid", "openid"
            )
        )


payments = Payments()

__all__ = ["Outcome", "PaymentResult", "Payments", "PayoutRequest", "payments"]
