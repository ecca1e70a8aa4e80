"""The payment sandbox's merchant: its balance, bills, limits and injected faults.

It speaks WeChat Pay v2's XML and checks what WeChat Pay checks: ``sign`` (MD5 or
HMAC-SHA256 with the merchant API key) and ``workwx_sign`` (the WeCom payment
secret), the merchant id, 1–200 yuan a packet (``scene_id`` for other amounts),
per user ≤ 10 packets and ≤ 1,000 yuan a day, the merchant's calls per minute
(FREQ_LIMIT), its balance (NOTENOUGH), and ``mch_billno``: a bill number already
paid is answered as paid again and never pays twice. All state is guarded by one lock.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from .. import protocol

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class PaymentSandboxConfig:
    mch_id: str = "1900000109"
    wxappid: str = "ww_demo_corp"
    api_key: str = "demo-merchant-api-key-32-chars!!"
    workwx_secret: str = "demo-workwx-payment-secret"  # noqa: S105 - demo value
    rate_per_min: int = 1800
    min_fen: int = 100
    max_fen: int = 20000
    user_daily_count: int = 10
    user_daily_fen: int = 100000
    balance_fen: int = 1_000_000_000
    # Answers are this late (ms): a real channel is not instant.
    latency_ms: int = 0

    @classmethod
    def from_settings(cls, **overrides: Any) -> PaymentSandboxConfig:
        from django.conf import settings

        values = dict(
            mch_id=settings.PAYMENTS_MCH_ID,
            wxappid=settings.PAYMENTS_WXAPPID or settings.WECOM_CORP_ID,
            api_key=settings.PAYMENTS_API_KEY,
            workwx_secret=settings.PAYMENTS_WORKWX_SECRET,
            rate_per_min=settings.PAYMENTS_SANDBOX_RATE_PER_MIN,
            min_fen=settings.PAYMENTS_MIN_FEN,
            max_fen=settings.PAYMENTS_MAX_FEN,
            user_daily_count=settings.PAYMENTS_USER_DAILY_COUNT,
            user_daily_fen=settings.PAYMENTS_USER_DAILY_FEN,
            balance_fen=settings.PAYMENTS_SANDBOX_BALANCE_FEN,
        )
        values.update(overrides)
        return cls(**values)


@dataclass
class PayFault:
    """One injected failure of ``send`` or ``query``, for ``times`` calls (-1: until cleared).

    ``err_code``: answer with this error (SYSTEMERROR, NOTENOUGH, SENDNUM_LIMIT, …) and
    pay nothing. ``timeout_s``: answer this late (longer than the client waits);
    with ``after_pay`` the packet is paid first (the client sees only the timeout).
    """

    endpoint: str = "send"
    err_code: str = ""
    timeout_s: float = 0.0
    after_pay: bool = False
    times: int = 1


@dataclass
class PayState:
    bills: dict[str, dict] = field(default_factory=dict)
    # (openid, Shanghai day) → [packets, fen]
    user_day: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    faults: list[PayFault] = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)  # (endpoint, outcome) → calls
    money_moves: int = 0  # packets actually paid (a repeated bill number moves nothing)
    paid_fen: int = 0
    tokens: float = -1.0
    tokens_at: float = 0.0


ERR_TEXT = {
    "SYSTEMERROR": "系统繁忙，请稍后再试",
    "NOTENOUGH": "帐号余额不足，请到商户平台充值后再重试",
    "SENDNUM_LIMIT": "该用户今日领取红包个数超过限制",
    "RCVDAMOUNT_LIMIT": "该用户今日领取金额超过限制",
    "FREQ_LIMIT": "超过频率限制,请稍后再试",
    "MONEY_LIMIT": "发放金额不在限制范围内",
    "OPENID_ERROR": "openid和appid不匹配",
    "PARAM_ERROR": "参数错误",
    "SIGN_ERROR": "workwx_sign签名错误",
    "FATAL_ERROR": "openid和原始单参数不一致",
    "NOT_FOUND": "指定单号数据不存在",
}


class PaymentSandbox:
    def __init__(self, config: PaymentSandboxConfig):
        self.config = config
        self.lock = threading.RLock()
        self.state = PayState()
        self._sign_type = protocol.MD5

    def reset(self, **config: Any) -> None:
        with self.lock:
            self.state = PayState()
            self.configure(**config)

    def configure(self, **config: Any) -> dict:
        with self.lock:
            for key, value in config.items():
                if hasattr(self.config, key):
                    setattr(self.config, key, type(getattr(self.config, key))(value))
            self.state.tokens = -1.0
            return asdict(self.config)

    def fault_add(self, **fields: Any) -> None:
        with self.lock:
            self.state.faults.append(
                PayFault(
                    endpoint=str(fields.get("endpoint") or "send"),
                    err_code=str(fields.get("err_code") or ""),
                    timeout_s=float(fields.get("timeout_s") or 0),
                    after_pay=bool(fields.get("after_pay")),
                    times=int(fields.get("times", 1)),
                )
            )

    def _fault(self, endpoint: str) -> PayFault | None:
        for fault in self.state.faults:
            if fault.endpoint == endpoint:
                if fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.state.faults.remove(fault)
                return fault
        return None

    # ------------------------------------------------------------------ answers
    def _answer(self, fields: dict[str, object]) -> bytes:
        fields = {"return_code": "SUCCESS", "return_msg": "OK", **fields}
        # Answers are signed the way the request was (under the lock: one request at a time).
        fields["sign"] = protocol.sign(fields, self.config.api_key, self._sign_type)
        return protocol.to_xml(fields)

    def _fail(self, code: str, extra: dict | None = None) -> bytes:
        return self._answer(
            {
                "result_code": "FAIL",
                "err_code": code,
                "err_code_des": ERR_TEXT.get(code, code),
                **(extra or {}),
            }
        )

    @staticmethod
    def _return_fail(message: str) -> bytes:
        return protocol.to_xml({"return_code": "FAIL", "return_msg": message})

    def _parse(self, body: bytes) -> dict[str, str] | bytes:
        self._sign_type = protocol.MD5
        try:
            fields = protocol.from_xml(body)
        except ValueError:
            return self._return_fail("XML格式错误")
        sign_type = fields.get("sign_type") or protocol.MD5
        if sign_type not in (protocol.MD5, protocol.HMAC_SHA256):
            return self._return_fail("sign_type参数错误")
        self._sign_type = sign_type
        if not protocol.verify(fields, self.config.api_key, sign_type):
            return self._return_fail("签名错误")
        if fields.get("mch_id") != self.config.mch_id:
            return self._return_fail("mch_id参数错误")
        return fields

    def _rate_ok(self) -> bool:
        """A bucket of one second's calls, refilled at ``rate_per_min``."""
        s = self.state
        rate = max(self.config.rate_per_min, 1) / 60.0
        capacity = max(1.0, rate)
        now = time.monotonic()
        if s.tokens < 0:
            s.tokens, s.tokens_at = capacity, now
        s.tokens = min(capacity, s.tokens + (now - s.tokens_at) * rate)
        s.tokens_at = now
        if s.tokens < 1:
            return False
        s.tokens -= 1
        return True

    # ------------------------------------------------------------------ sendworkwxredpack
    def send(self, body: bytes) -> tuple[bytes, float]:
        """(answer, seconds to wait before answering)."""
        with self.lock:
            answer, delay, outcome = self._send(body)
            self.state.calls[("send", outcome)] += 1
            return answer, delay

    def _send(self, body: bytes) -> tuple[bytes, float, str]:
        cfg = self.config
        fields = self._parse(body)
        if isinstance(fields, bytes):
            return fields, 0.0, "return_fail"
        for name in (
            "nonce_str",
            "mch_billno",
            "wxappid",
            "re_openid",
            "total_amount",
            "wishing",
            "act_name",
        ):
            if not fields.get(name):
                return (
                    self._fail("PARAM_ERROR", {"err_code_des": f"{name}字段必填"}),
                    0.0,
                    "PARAM_ERROR",
                )
        if not (fields.get("agentid") or fields.get("sender_name")):
            return (
                self._fail("PARAM_ERROR", {"err_code_des": "sender_name或agentid必填"}),
                0.0,
                "PARAM_ERROR",
            )
        if fields["wxappid"] != cfg.wxappid:
            return self._fail("PARAM_ERROR", {"err_code_des": "wxappid不正确"}), 0.0, "PARAM_ERROR"
        if len(fields["mch_billno"]) > 28 or not fields["mch_billno"].isalnum():
            return (
                self._fail("PARAM_ERROR", {"err_code_des": "mch_billno格式错误"}),
                0.0,
                "PARAM_ERROR",
            )
        if fields.get("workwx_sign") != protocol.workwx_sign(fields, cfg.workwx_secret):
            return self._fail("SIGN_ERROR"), 0.0, "SIGN_ERROR"
        if not self._rate_ok():
            return self._fail("FREQ_LIMIT"), 0.0, "FREQ_LIMIT"
        try:
            amount = int(fields["total_amount"])
        except ValueError:
            return (
                self._fail("PARAM_ERROR", {"err_code_des": "total_amount格式错误"}),
                0.0,
                "PARAM_ERROR",
            )
        bill_no, openid = fields["mch_billno"], fields["re_openid"]
        known = self.state.bills.get(bill_no)
        if known is not None:
            # The same bill number again (a retry after a timeout): paid once, answered again.
            if known["openid"] != openid or known["amount"] != amount:
                return self._fail("FATAL_ERROR"), 0.0, "FATAL_ERROR"
            known["repeats"] += 1
            return self._paid_answer(known), 0.0, "repeat"
        fault = self._fault("send")
        if fault is not None and fault.err_code:
            return self._fail(fault.err_code), fault.timeout_s, fault.err_code
        if fault is not None and fault.timeout_s and not fault.after_pay:
            return self._fail("SYSTEMERROR"), fault.timeout_s, "timeout_unpaid"
        out_of_range = not cfg.min_fen <= amount <= cfg.max_fen
        if amount <= 0 or (out_of_range and not fields.get("scene_id")) or amount > 499900:
            return self._fail("MONEY_LIMIT"), 0.0, "MONEY_LIMIT"
        if not openid.startswith("o") or len(openid) < 10:
            return self._fail("OPENID_ERROR"), 0.0, "OPENID_ERROR"
        day = dt.datetime.now(SHANGHAI).date().isoformat()
        used = self.state.user_day.setdefault((openid, day), [0, 0])
        if used[0] + 1 > cfg.user_daily_count:
            return self._fail("SENDNUM_LIMIT"), 0.0, "SENDNUM_LIMIT"
        if used[1] + amount > cfg.user_daily_fen:
            return self._fail("RCVDAMOUNT_LIMIT"), 0.0, "RCVDAMOUNT_LIMIT"
        if amount > cfg.balance_fen:
            return self._fail("NOTENOUGH"), 0.0, "NOTENOUGH"
        cfg.balance_fen -= amount
        used[0] += 1
        used[1] += amount
        bill = {
            "bill_no": bill_no,
            "openid": openid,
            "amount": amount,
            "act_name": fields["act_name"],
            "wishing": fields["wishing"],
            "remark": fields.get("remark", ""),
            "sender": fields.get("sender_name") or fields.get("agentid"),
            "send_listid": "1000041701" + secrets.token_hex(9),
            "status": "SENT",
            "at": time.time(),
            "repeats": 0,
        }
        self.state.bills[bill_no] = bill
        self.state.money_moves += 1
        self.state.paid_fen += amount
        delay = fault.timeout_s if fault is not None else 0.0
        return self._paid_answer(bill), delay, "paid_then_timeout" if delay else "paid"

    def _paid_answer(self, bill: dict) -> bytes:
        return self._answer(
            {
                "result_code": "SUCCESS",
                "mch_billno": bill["bill_no"],
                "mch_id": self.config.mch_id,
                "wxappid": self.config.wxappid,
                "re_openid": bill["openid"],
                "total_amount": bill["amount"],
                "send_listid": bill["send_listid"],
            }
        )

    # ------------------------------------------------------------------ queryworkwxredpack
    def query(self, body: bytes) -> tuple[bytes, float]:
        with self.lock:
            fields = self._parse(body)
            if isinstance(fields, bytes):
                return fields, 0.0
            fault = self._fault("query")
            if fault is not None and (fault.err_code or fault.timeout_s):
                self.state.calls[("query", fault.err_code or "timeout")] += 1
                return self._fail(fault.err_code or "SYSTEMERROR"), fault.timeout_s
            bill = self.state.bills.get(fields.get("mch_billno", ""))
            if bill is None:
                self.state.calls[("query", "NOT_FOUND")] += 1
                return self._fail("NOT_FOUND"), 0.0
            self.state.calls[("query", bill["status"])] += 1
            return (
                self._answer(
                    {
                        "result_code": "SUCCESS",
                        "mch_billno": bill["bill_no"],
                        "mch_id": self.config.mch_id,
                        "detail_id": bill["send_listid"],
                        "status": bill["status"],
                        "send_type": "API",
                        "total_amount": bill["amount"],
                        "openid": bill["openid"],
                        "send_time": dt.datetime.fromtimestamp(bill["at"], SHANGHAI).strftime(
                            "%Y-%m-%d %H:%M:%S"
                        ),
                    }
                ),
                0.0,
            )

    # ------------------------------------------------------------------ control
    def snapshot(self, *, bills: bool = False) -> dict:
        with self.lock:
            s = self.state
            per_openid = Counter(b["openid"] for b in s.bills.values())
            out = {
                "config": asdict(self.config),
                "bills": len(s.bills),
                "money_moves": s.money_moves,
                "paid_fen": s.paid_fen,
                "repeats": sum(b["repeats"] for b in s.bills.values()),
                "openids_paid_more_than_once": sum(1 for n in per_openid.values() if n > 1),
                "calls": {f"{e}:{o}": n for (e, o), n in s.calls.items()},
                "faults": [asdict(f) for f in s.faults],
            }
            if bills:
                out["bill_list"] = list(s.bills.values())
            return out

    def receive(self, bill_no: str) -> dict:
        """The customer opens the packet (SENT → RECEIVED)."""
        with self.lock:
            bill = self.state.bills[bill_no]
            bill["status"] = "RECEIVED"
            return dict(bill)
