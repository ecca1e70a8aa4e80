"""Payment channels behind one interface: ``send`` a payout under its bill number, ``query`` it.

``WorkWxRedPackChannel`` is WeChat Pay's 企业红包 (red packets sent from WeCom,
``mmpaymkttransfers/sendworkwxredpack`` and ``queryworkwxredpack``): XML over TLS
with the merchant certificate, ``sign`` (MD5 or HMAC-SHA256, merchant API key) and the
separate ``workwx_sign`` (MD5, the WeCom payment app's secret). The bill number
(``mch_billno``) is the idempotency key: sending it again pays at most once.

A channel never raises for an answer: every outcome is a :class:`PaymentResult`
the ledger acts on (paid; retry later; the user's daily limit, wait for tomorrow;
rejected for good; unknown, ask ``query`` before sending again).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum

import requests

from . import protocol


class Outcome(StrEnum):
    PAID = "paid"
    RETRY = "retry"  # not paid; the same bill number may be sent again later
    USER_LIMIT = "user_limit"  # not paid: the customer's daily limit; send again tomorrow
    REJECTED = "rejected"  # not paid, and sending again would not help
    UNKNOWN = "unknown"  # may have been paid (timeout, processing): query first
    NOT_FOUND = "not_found"  # query only: the channel never saw this bill number


@dataclass(frozen=True)
class PayoutRequest:
    bill_no: str
    openid: str
    amount_fen: int
    act_name: str
    wishing: str
    remark: str = ""
    sender_name: str = ""


@dataclass(frozen=True)
class PaymentResult:
    outcome: Outcome
    error_code: str = ""
    error_message: str = ""
    channel_ref: str = ""
    retry_after_s: float = 0.0

    @property
    def paid(self) -> bool:
        return self.outcome == Outcome.PAID


class PaymentChannel(ABC):
    """What the ledger needs of a way to pay a customer."""

    name: str = ""

    @abstractmethod
    def send(self, request: PayoutRequest) -> PaymentResult: ...

    @abstractmethod
    def query(self, bill_no: str) -> PaymentResult: ...


# err_code of sendworkwxredpack → what the ledger does.
RETRYABLE = {
    "SYSTEMERROR": 30.0,  # "系统繁忙，请稍后再试": retry with the same mch_billno
    "FREQ_LIMIT": 1.0,  # over the calls-per-minute limit
    "NOTENOUGH": 600.0,  # the merchant's balance is too low: ops top it up
    "SEND_FAILED": 60.0,
    "SENDAMOUNT_LIMIT": 3600.0,  # the merchant's own daily amount
}
USER_LIMITS = {"SENDNUM_LIMIT", "RCVDAMOUNT_LIMIT"}
UNSURE = {"PROCESSING"}


@dataclass
class RedPackConfig:
    api_base: str
    mch_id: str
    wxappid: str
    api_key: str
    sign_type: str
    workwx_secret: str
    agent_id: str = ""
    sender_name: str = ""
    cert_file: str = ""
    key_file: str = ""
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls) -> RedPackConfig:
        from django.conf import settings

        return cls(
            api_base=settings.PAYMENTS_API_BASE,
            mch_id=settings.PAYMENTS_MCH_ID,
            wxappid=settings.PAYMENTS_WXAPPID or settings.WECOM_CORP_ID,
            api_key=settings.PAYMENTS_API_KEY,
            sign_type=settings.PAYMENTS_SIGN_TYPE,
            workwx_secret=settings.PAYMENTS_WORKWX_SECRET,
            agent_id=settings.PAYMENTS_AGENT_ID,
            sender_name=settings.PAYMENTS_SENDER_NAME,
            cert_file=settings.PAYMENTS_CERT_FILE,
            key_file=settings.PAYMENTS_KEY_FILE,
            timeout_s=settings.PAYMENTS_HTTP_TIMEOUT_S,
        )


class WorkWxRedPackChannel(PaymentChannel):
    """企业红包: a red packet from the corp's WeCom to a customer's WeChat."""

    name = "workwx_redpack"
    SEND = "mmpaymkttransfers/sendworkwxredpack"
    QUERY = "mmpaymkttransfers/queryworkwxredpack"

    def __init__(self, config: RedPackConfig):
        self.config = config
        self._local = threading.local()

    # ------------------------------------------------------------------ HTTP
    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            if self.config.cert_file:
                session.cert = (
                    (self.config.cert_file, self.config.key_file)
                    if self.config.key_file
                    else self.config.cert_file
                )
            self._local.session = session
        return session

    def _call(self, endpoint: str, fields: dict) -> dict[str, str] | PaymentResult:
        fields = {k: v for k, v in fields.items() if v not in (None, "")}
        if self.config.sign_type != protocol.MD5:
            fields["sign_type"] = self.config.sign_type
        fields["sign"] = protocol.sign(fields, self.config.api_key, self.config.sign_type)
        base = (
            self.config.api_base
            if self.config.api_base.endswith("/")
            else self.config.api_base + "/"
        )
        try:
            response = self.session.post(
                base + endpoint,
                data=protocol.to_xml(fields),
                headers={"Content-Type": "text/xml; charset=utf-8"},
                timeout=self.config.timeout_s,
            )
        except requests.Timeout:
            return PaymentResult(Outcome.UNKNOWN, "TIMEOUT", "no answer in time")
        except requests.RequestException as exc:
            # The request may or may not have reached WeChat Pay.
            return PaymentResult(Outcome.UNKNOWN, "TRANSPORT", type(exc).__name__)
        if response.status_code >= 500:
            return PaymentResult(Outcome.UNKNOWN, f"HTTP_{response.status_code}", "server error")
        if response.status_code >= 400:
            return PaymentResult(Outcome.REJECTED, f"HTTP_{response.status_code}", "refused")
        try:
            answer = protocol.from_xml(response.content)
        except ValueError as exc:
            return PaymentResult(Outcome.UNKNOWN, "BAD_ANSWER", str(exc)[:200])
        if answer.get("return_code") != "SUCCESS":
            # Communication-level refusal (bad signature, bad XML, no certificate): not paid.
            return PaymentResult(
                Outcome.REJECTED, "RETURN_FAIL", str(answer.get("return_msg", ""))[:200]
            )
        if answer.get("sign") and not protocol.verify(
            answer, self.config.api_key, answer.get("sign_type") or self.config.sign_type
        ):
            return PaymentResult(Outcome.UNKNOWN, "ANSWER_SIGN", "answer's signature is wrong")
        return answer

    # ------------------------------------------------------------------ API
    def send(self, request: PayoutRequest) -> PaymentResult:
        cfg = self.config
        fields: dict[str, object] = {
            "nonce_str": protocol.nonce(),
            "mch_billno": request.bill_no,
            "mch_id": cfg.mch_id,
            "wxappid": cfg.wxappid,
            "re_openid": request.openid,
            "total_amount": int(request.amount_fen),
            "wishing": request.wishing[:128],
            "act_name": request.act_name[:32],
            "remark": request.remark[:256],
        }
        if cfg.agent_id:
            fields["agentid"] = cfg.agent_id
        else:
            # Without the payment app's agentid WeChat Pay needs a sender name.
            fields["sender_name"] = (request.sender_name or cfg.sender_name or request.act_name)[
                :128
            ]
        fields["workwx_sign"] = protocol.workwx_sign(fields, cfg.workwx_secret)
        answer = self._call(self.SEND, fields)
        if isinstance(answer, PaymentResult):
            return answer
        if answer.get("result_code") == "SUCCESS":
            return PaymentResult(Outcome.PAID, channel_ref=answer.get("send_listid", ""))
        code = answer.get("err_code", "")
        message = answer.get("err_code_des", "")[:200]
        if code in RETRYABLE:
            return PaymentResult(Outcome.RETRY, code, message, retry_after_s=RETRYABLE[code])
        if code in USER_LIMITS:
            return PaymentResult(Outcome.USER_LIMIT, code, message)
        if code in UNSURE:
            return PaymentResult(Outcome.UNKNOWN, code, message)
        return PaymentResult(Outcome.REJECTED, code or "FAIL", message)

    def query(self, bill_no: str) -> PaymentResult:
        cfg = self.config
        answer = self._call(
            self.QUERY,
            {
                "nonce_str": protocol.nonce(),
                "mch_billno": bill_no,
                "mch_id": cfg.mch_id,
                "appid": cfg.wxappid,
            },
        )
        if isinstance(answer, PaymentResult):
            return answer
        if answer.get("result_code") != "SUCCESS":
            code = answer.get("err_code", "")
            if code == "NOT_FOUND":
                return PaymentResult(Outcome.NOT_FOUND, code, answer.get("err_code_des", ""))
            return PaymentResult(
                Outcome.UNKNOWN, code or "FAIL", answer.get("err_code_des", "")[:200]
            )
        status = answer.get("status", "")
        ref = answer.get("detail_id", "")
        if status in ("SENT", "RECEIVED", "RFUND_ING", "REFUND"):
            # Money left the merchant for this bill (a packet not opened in 24 h is refunded
            # to the merchant later: the ledger's entry was paid all the same).
            return PaymentResult(Outcome.PAID, channel_ref=ref)
        if status == "SENDING":
            return PaymentResult(Outcome.UNKNOWN, "SENDING", "still being sent")
        if status == "FAILED":
            return PaymentResult(
                Outcome.RETRY, "FAILED", answer.get("reason", "")[:200], retry_after_s=30.0
            )
        return PaymentResult(Outcome.UNKNOWN, status or "UNKNOWN_STATUS", "")
