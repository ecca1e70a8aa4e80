"""The sandbox's contact ways (channel codes) and the welcome message sent on a new contact."""

from __future__ import annotations

import time

from .base import ApiError, Handler, SandboxBase, _id


class ContactWaysMixin(SandboxBase):
    """``externalcontact/*_contact_way`` and ``send_welcome_msg``."""

    def contact_way_add(self, q: dict, b: dict) -> dict:
        if int(b.get("type") or 0) not in (1, 2) or int(b.get("scene") or 0) not in (1, 2):
            raise ApiError(40058, "type and scene are required")
        users = list(b.get("user") or [])
        if not users and not b.get("party"):
            raise ApiError(40058, "user or party is required")
        if len(users) > 100:
            raise ApiError(41041, "too many users in contact way")
        if int(b["type"]) == 1 and len(users) != 1:
            raise ApiError(40058, "type 1 takes exactly one user")
        for userid in users:
            self._user(userid)
        if len(str(b.get("state") or "")) > 30 or len(str(b.get("remark") or "")) > 30:
            raise ApiError(40058, "state and remark are at most 30 characters")
        config_id = _id("cw", 32)
        way = {
            "config_id": config_id,
            "type": int(b["type"]),
            "scene": int(b["scene"]),
            "style": b.get("style", 1),
            "remark": b.get("remark", ""),
            "skip_verify": bool(b.get("skip_verify", True)),
            "state": b.get("state", ""),
            "user": users,
            "party": list(b.get("party") or []),
            "is_temp": bool(b.get("is_temp", False)),
            "expires_in": b.get("expires_in", 0),
            "rr": 0,
        }
        if way["scene"] == 2:
            way["qr_code"] = f"https://wework.qpic.cn/wwpic/sandbox/{config_id}.png"
        self.state.contact_ways[config_id] = way
        out = {"config_id": config_id}
        if "qr_code" in way:
            out["qr_code"] = way["qr_code"]
        return out

    def _way(self, config_id: str) -> dict:
        way = self.state.contact_ways.get(config_id or "")
        if way is None:
            raise ApiError(41044, "invalid config_id")
        return way

    def contact_way_get(self, q: dict, b: dict) -> dict:
        return {
            "contact_way": {k: v for k, v in self._way(b.get("config_id")).items() if k != "rr"}
        }

    def contact_way_update(self, q: dict, b: dict) -> dict:
        way = self._way(b.get("config_id"))
        for userid in b.get("user") or []:
            self._user(userid)
        for key in ("remark", "skip_verify", "style", "state", "user", "party", "expires_in"):
            if key in b:
                way[key] = b[key]
        return {}

    def contact_way_del(self, q: dict, b: dict) -> dict:
        self._way(b.get("config_id"))
        del self.state.contact_ways[b["config_id"]]
        return {}

    def send_welcome_msg(self, q: dict, b: dict) -> dict:
        code = self.state.welcome_codes.get(b.get("welcome_code") or "")
        if code is None or code["expires_at"] < time.time():
            raise ApiError(41050, "welcome_code expired or invalid")
        if code["used"]:
            raise ApiError(41051, "welcome_code already used")
        if not b.get("text") and not b.get("attachments"):
            raise ApiError(40058, "text or attachments required")
        if len(b.get("attachments") or []) > 9:
            raise ApiError(40058, "at most 9 attachments")
        code["used"] = True
        self.state.welcome_sent.append(
            {
                "external_userid": code["external_userid"],
                "userid": code["userid"],
                "text": (b.get("text") or {}).get("content", ""),
                "attachments": b.get("attachments") or [],
                "at": time.time(),
            }
        )
        return {}


API: dict[str, Handler] = {
    "externalcontact/add_contact_way": ContactWaysMixin.contact_way_add,
    "externalcontact/get_contact_way": ContactWaysMixin.contact_way_get,
    "externalcontact/update_contact_way": ContactWaysMixin.contact_way_update,
    "externalcontact/del_contact_way": ContactWaysMixin.contact_way_del,
    "externalcontact/send_welcome_msg": ContactWaysMixin.send_welcome_msg,
}
