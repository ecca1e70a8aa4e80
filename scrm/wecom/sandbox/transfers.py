"""Customer transfers in the sandbox: handing customers from one member to another.

WeCom's two APIs: ``externalcontact/transfer_customer`` (在职继承, the handover
member still works here; the customer may refuse within 24 hours) and
``externalcontact/resigned/transfer_customer`` (离职继承, the member left).
Each answers per customer; a customer can be transferred at most twice in 90
days (40128). ``transfer_result`` reports 1 done, 2 waiting, 3 refused,
4 takeover member over their customer limit. The control action
``transfer_respond`` plays the 24 hours: the customer accepts or refuses.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .base import ApiError

if TYPE_CHECKING:
    from .state import Sandbox

TRANSFER_LIMIT = 2
TRANSFER_WINDOW_S = 90 * 24 * 3600
TRANSFER_LIMIT_ERRCODE = 40128
DONE, WAITING, REFUSED, LIMIT = 1, 2, 3, 4


def _transfers(sb: Sandbox) -> list[dict]:
    # Kept beside the other state so ``reset`` (a fresh State) clears it too.
    if not hasattr(sb.state, "transfers"):
        sb.state.transfers = []  # type: ignore[attr-defined]
    return sb.state.transfers  # type: ignore[attr-defined]


def _transfer(sb: Sandbox, b: dict, *, resigned: bool) -> dict:
    handover, takeover = b.get("handover_userid") or "", b.get("takeover_userid") or ""
    ext_ids = list(b.get("external_userid") or [])
    if not ext_ids or len(ext_ids) > 100:
        raise ApiError(40058, "external_userid must hold 1 to 100 ids")
    handover_user = sb.state.users.get(handover)
    if handover_user is None:
        raise ApiError(60111, "userid not found")
    if resigned and handover_user.get("status") != "left":
        raise ApiError(40058, "handover_userid has not left the corp")
    if not resigned and handover_user.get("status") == "left":
        raise ApiError(60111, "userid not found")
    sb._user(takeover)
    now = time.time()
    transfers = _transfers(sb)
    out = []
    for ext in ext_ids:
        follow = sb.state.follows.get((ext, handover))
        if follow is None or not follow["active"]:
            out.append({"external_userid": ext, "errcode": 84061})
            continue
        recent = [
            t
            for t in transfers
            if t["external_userid"] == ext and now - t["requested_at"] < TRANSFER_WINDOW_S
        ]
        if len(recent) >= TRANSFER_LIMIT:
            out.append({"external_userid": ext, "errcode": TRANSFER_LIMIT_ERRCODE})
            continue
        if any(t["status"] == WAITING for t in recent):
            out.append({"external_userid": ext, "errcode": 40058})
            continue
        transfers.append(
            {
                "external_userid": ext,
                "handover_userid": handover,
                "takeover_userid": takeover,
                "resigned": resigned,
                "status": WAITING,
                "requested_at": now,
                "takeover_time": 0,
                "message": (b.get("transfer_success_msg") or "")[:200],
            }
        )
        out.append({"external_userid": ext, "errcode": 0})
    return {"customer": out}


def transfer_customer(sb: Sandbox, q: dict, b: dict) -> dict:
    return _transfer(sb, b, resigned=False)


def resigned_transfer_customer(sb: Sandbox, q: dict, b: dict) -> dict:
    return _transfer(sb, b, resigned=True)


def _result(sb: Sandbox, b: dict, *, resigned: bool) -> dict:
    handover, takeover = b.get("handover_userid") or "", b.get("takeover_userid") or ""
    if not handover or not takeover:
        raise ApiError(40058, "handover_userid and takeover_userid are required")
    # The latest transfer per customer between these two members.
    latest: dict[str, dict] = {}
    for t in _transfers(sb):
        if (
            t["handover_userid"] == handover
            and t["takeover_userid"] == takeover
            and t["resigned"] == resigned
        ):
            latest[t["external_userid"]] = t
    rows = [
        {
            "external_userid": ext,
            "status": t["status"],
            "takeover_time": int(t["takeover_time"]),
        }
        for ext, t in sorted(latest.items())
    ]
    start = int(b.get("cursor") or 0)
    page = rows[start : start + 1000]
    return {"customer": page, "next_cursor": str(start + 1000) if start + 1000 < len(rows) else ""}


def transfer_result(sb: Sandbox, q: dict, b: dict) -> dict:
    return _result(sb, b, resigned=False)


def resigned_transfer_result(sb: Sandbox, q: dict, b: dict) -> dict:
    return _result(sb, b, resigned=True)


def act_transfer_respond(sb: Sandbox, body: dict) -> list[dict]:
    """The customer's answer (or 24 hours passing): ``accept`` (default), ``refuse`` or ``limit``.

    Returns the callbacks to send: ``transfer_fail`` on refusal/limit; on success the
    old relation ends (``del_external_contact``, Source ``DELETE_BY_TRANSFER``).
    """
    ext = body["external_userid"]
    outcome = body.get("outcome", "accept")
    with sb.lock:
        pending = [
            t
            for t in _transfers(sb)
            if t["external_userid"] == ext
            and t["status"] == WAITING
            and (not body.get("handover_userid") or t["handover_userid"] == body["handover_userid"])
        ]
        if not pending:
            raise ApiError(40058, "no transfer waiting for this customer")
        t = pending[-1]
        events: list[dict] = []
        if outcome == "accept":
            t["status"], t["takeover_time"] = DONE, time.time()
            old = sb.state.follows.get((ext, t["handover_userid"]))
            state = old["state"] if old else ""
            tag_ids = list(old["tag_ids"]) if old else []
            if old is not None:
                old["active"] = False
            new = sb._follow_add(ext, t["takeover_userid"], state=state, add_way=202)
            new["tag_ids"] = list(dict.fromkeys([*new["tag_ids"], *tag_ids]))
            fields = sb._contact_event("del_external_contact", t["handover_userid"], ext)
            fields["Source"] = "DELETE_BY_TRANSFER"
            events.append(fields)
        else:
            t["status"] = REFUSED if outcome == "refuse" else LIMIT
            # WeCom names the member who failed to take the customer over.
            fields = sb._contact_event("transfer_fail", t["takeover_userid"], ext)
            fields["FailReason"] = (
                "customer_refused" if outcome == "refuse" else "customer_limit_exceed"
            )
            events.append(fields)
    return events


API = {
    "externalcontact/transfer_customer": transfer_customer,
    "externalcontact/transfer_result": transfer_result,
    "externalcontact/resigned/transfer_customer": resigned_transfer_customer,
    "externalcontact/resigned/transfer_result": resigned_transfer_result,
}
