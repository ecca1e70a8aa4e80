"""The sandbox's staff directory: members, OAuth logins, who may hold customers."""

from __future__ import annotations

import time

from .base import ApiError, Handler, SandboxBase, _id


class DirectoryMixin(SandboxBase):
    """Corp members (``user/get``), OAuth codes and the follow-user list."""

    def _user(self, userid: str) -> dict:
        user = self.state.users.get(userid or "")
        if user is None or user.get("status") == "left":
            raise ApiError(60111, "userid not found")
        return user

    def user_get(self, q: dict, b: dict) -> dict:
        user = self._user(q.get("userid", ""))
        return {k: v for k, v in user.items() if k != "status"}

    def oauth_getuserinfo(self, q: dict, b: dict) -> dict:
        userid = self.state.oauth_codes.pop(q.get("code", ""), None)
        if userid is None:
            raise ApiError(40029, "invalid code")
        return {"UserId": userid, "userid": userid}

    def follow_user_list(self, q: dict, b: dict) -> dict:
        return {
            "follow_user": [
                u
                for u, v in self.state.users.items()
                if v.get("status") != "left" and v.get("follow", True)
            ]
        }

    # ------------------------------------------------------------------ people's actions
    def seed_users(self, users: list[dict]) -> list[str]:
        with self.lock:
            for u in users:
                self.state.users[u["userid"]] = {
                    "userid": u["userid"],
                    "name": u.get("name", u["userid"]),
                    "department": u.get("department", [1]),
                    "position": u.get("position", ""),
                    "status": "active",
                    "follow": u.get("follow", True),
                }
            return [u["userid"] for u in users]

    def act_staff_leave(self, body: dict) -> dict:
        with self.lock:
            user = self._user(body["userid"])
            user["status"] = "left"
            fields = {
                "ToUserName": self.config.corp_id,
                "FromUserName": "sys",
                "CreateTime": str(int(time.time())),
                "MsgType": "event",
                "Event": "change_contact",
                "ChangeType": "delete_user",
                "UserID": body["userid"],
            }
        return {
            "deliveries": self.emit(
                fields, int(body.get("deliveries", 1)), bool(body.get("wait", True))
            )
        }

    def act_oauth_code(self, body: dict) -> dict:
        with self.lock:
            self._user(body["userid"])
            code = _id("oc", 24)
            self.state.oauth_codes[code] = body["userid"]
            return {"code": code}


API: dict[str, Handler] = {
    "user/get": DirectoryMixin.user_get,
    "auth/getuserinfo": DirectoryMixin.oauth_getuserinfo,
    "user/getuserinfo": DirectoryMixin.oauth_getuserinfo,
    "externalcontact/get_follow_user_list": DirectoryMixin.follow_user_list,
}
