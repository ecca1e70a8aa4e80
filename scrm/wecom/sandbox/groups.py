"""The sandbox's customer groups and group join ways (QR codes), with the chat callbacks."""

from __future__ import annotations

import time
from typing import Any

from .base import ApiError, Handler, SandboxBase, _id


class GroupsMixin(SandboxBase):
    """``externalcontact/groupchat/*`` (chats and join ways) and people joining or leaving."""

    # ------------------------------------------------------------------ group chats
    def groupchat_list(self, q: dict, b: dict) -> dict:
        limit = int(b.get("limit") or 0)
        if not 1 <= limit <= 1000:
            raise ApiError(40058, "limit must be 1 to 1000")
        owners = (b.get("owner_filter") or {}).get("userid_list") or []
        if len(owners) > 100:
            raise ApiError(40058, "owner_filter at most 100 userids")
        chats = [
            c
            for c in self.state.chats.values()
            if not c["dismissed"] and (not owners or c["owner"] in owners)
        ]
        chats.sort(key=lambda c: c["create_time"])
        start = int(b.get("cursor") or 0)
        page = chats[start : start + limit]
        return {
            "group_chat_list": [{"chat_id": c["chat_id"], "status": 0} for c in page],
            "next_cursor": str(start + limit) if start + limit < len(chats) else "",
        }

    def _chat(self, chat_id: str) -> dict:
        chat = self.state.chats.get(chat_id or "")
        if chat is None or chat["dismissed"]:
            raise ApiError(40050, "chat_id not found")
        return chat

    def groupchat_get(self, q: dict, b: dict) -> dict:
        chat = self._chat(b.get("chat_id"))
        public = {k: v for k, v in chat.items() if k not in ("dismissed", "members", "version")}
        public["member_list"] = list(chat["members"].values())
        public["admin_list"] = [{"userid": u} for u in chat.get("admins", [])]
        public["member_version"] = str(chat["version"])
        public.pop("admins", None)
        return {"group_chat": public}

    def chat_create(self, *, owner: str, name: str, members: list[str] | None = None) -> dict:
        chat_id = _id("wr", 24)
        now = int(time.time())
        chat = {
            "chat_id": chat_id,
            "name": name,
            "owner": owner,
            "create_time": now,
            "notice": "",
            "members": {
                owner: {
                    "userid": owner,
                    "type": 1,
                    "join_time": now,
                    "join_scene": 1,
                    "invitor": {"userid": owner},
                    "group_nickname": "",
                    "name": self.state.users.get(owner, {}).get("name", owner),
                }
            },
            "admins": [],
            "version": 1,
            "dismissed": False,
            "qr_joins": 0,
        }
        self.state.chats[chat_id] = chat
        for userid in members or []:
            self._member_add(chat, userid, scene=1)
        return chat

    def _member_add(self, chat: dict, userid: str, *, scene: int) -> None:
        is_staff = userid in self.state.users
        chat["members"][userid] = {
            "userid": userid,
            "type": 1 if is_staff else 2,
            "join_time": int(time.time()),
            "join_scene": scene,
            "invitor": {"userid": chat["owner"]},
            "group_nickname": "",
            "name": (self.state.users.get(userid) or self.state.customers.get(userid) or {}).get(
                "name", ""
            ),
        }
        if (
            not is_staff
            and userid in self.state.customers
            and self.state.customers[userid].get("unionid")
        ):
            chat["members"][userid]["unionid"] = self.state.customers[userid]["unionid"]
        if scene == 3:
            chat["qr_joins"] += 1
        chat["version"] += 1

    # ------------------------------------------------------------------ join ways
    def join_way_add(self, q: dict, b: dict) -> dict:
        chat_ids = list(b.get("chat_id_list") or [])
        if not chat_ids:
            raise ApiError(40058, "chat_id_list is required")
        if len(chat_ids) > 5:
            raise ApiError(41091, "too many chat_id in join way")
        for chat_id in chat_ids:
            self._chat(chat_id)
        if int(b.get("scene") or 0) not in (1, 2):
            raise ApiError(40058, "scene must be 1 or 2")
        if len(str(b.get("room_base_name") or "")) > 40 or len(str(b.get("state") or "")) > 30:
            raise ApiError(40058, "room_base_name ≤ 40, state ≤ 30 characters")
        config_id = _id("jw", 32)
        self.state.join_ways[config_id] = {
            "config_id": config_id,
            "scene": int(b["scene"]),
            "remark": b.get("remark", ""),
            "auto_create_room": int(b.get("auto_create_room", 1)),
            "room_base_name": b.get("room_base_name", ""),
            "room_base_id": int(b.get("room_base_id") or 1),
            "chat_id_list": chat_ids,
            "qr_code": f"https://wework.qpic.cn/wwpic/sandbox/{config_id}.png"
            if int(b["scene"]) == 2
            else "",
            "state": b.get("state", ""),
        }
        return {"config_id": config_id}

    def _join_way(self, config_id: str) -> dict:
        way = self.state.join_ways.get(config_id or "")
        if way is None:
            raise ApiError(41044, "invalid config_id")
        return way

    def join_way_get(self, q: dict, b: dict) -> dict:
        return {"join_way": dict(self._join_way(b.get("config_id")))}

    def join_way_update(self, q: dict, b: dict) -> dict:
        way = self._join_way(b.get("config_id"))
        if "chat_id_list" in b:
            if len(b["chat_id_list"]) > 5:
                raise ApiError(41091, "too many chat_id in join way")
            for chat_id in b["chat_id_list"]:
                self._chat(chat_id)
        for key in (
            "scene",
            "remark",
            "auto_create_room",
            "room_base_name",
            "room_base_id",
            "chat_id_list",
            "state",
        ):
            if key in b:
                way[key] = b[key]
        return {}

    def join_way_del(self, q: dict, b: dict) -> dict:
        self._join_way(b.get("config_id"))
        del self.state.join_ways[b["config_id"]]
        return {}

    # ------------------------------------------------------------------ people's actions
    def _chat_event(self, change_type: str, chat_id: str, **extra: Any) -> dict:
        fields = {
            "ToUserName": self.config.corp_id,
            "FromUserName": "sys",
            "CreateTime": str(int(time.time())),
            "MsgType": "event",
            "Event": "change_external_chat",
            "ChatId": chat_id,
            "ChangeType": change_type,
        }
        fields.update({k: v for k, v in extra.items() if v is not None})
        return fields

    def act_join_group(self, body: dict) -> dict:
        """A customer joins through a group join way (QR): capacity rules, auto-created rooms."""
        events: list[dict] = []
        with self.lock:
            way = self._join_way(body["config_id"])
            ext = self._customer_ensure(body.get("external_userid"), body.get("name", ""))
            target = None
            for chat_id in way["chat_id_list"]:
                chat = self.state.chats.get(chat_id)
                if chat is None or chat["dismissed"]:
                    continue
                if ext in chat["members"]:
                    target = chat
                    break
                if (
                    len(chat["members"]) < self.config.group_max
                    and chat["qr_joins"] < self.config.group_qr_max
                ):
                    target = chat
                    break
            if target is None:
                if not way["auto_create_room"] or not way["chat_id_list"]:
                    raise ApiError(41092, "all groups of this join way are full")
                owner = self.state.chats[way["chat_id_list"][-1]]["owner"]
                name = f"{way['room_base_name']}{way['room_base_id']}"
                way["room_base_id"] = int(way["room_base_id"]) + 1
                target = self.chat_create(owner=owner, name=name)
                # At most 5 groups per join way: the new room replaces the oldest full one.
                way["chat_id_list"] = [*way["chat_id_list"], target["chat_id"]][-5:]
                events.append(self._chat_event("create", target["chat_id"]))
            if ext not in target["members"]:
                last = target["version"]
                self._member_add(target, ext, scene=3)
                events.append(
                    self._chat_event(
                        "update",
                        target["chat_id"],
                        UpdateDetail="add_member",
                        JoinScene="3",
                        MemChangeCnt="1",
                        MemChangeList={"Item": [ext]},
                        LastMemVer=str(last),
                        CurMemVer=str(target["version"]),
                    )
                )
            if way.get("state"):
                for e in events:
                    e["State"] = way["state"]
        deliveries = [
            self.emit(e, int(body.get("deliveries", 1)), bool(body.get("wait", True)))
            for e in events
        ]
        return {"chat_id": target["chat_id"], "external_userid": ext, "deliveries": deliveries}

    def act_leave_group(self, body: dict) -> dict:
        with self.lock:
            chat = self._chat(body["chat_id"])
            userid = body["external_userid"]
            if userid not in chat["members"]:
                raise ApiError(40058, "not a member")
            last = chat["version"]
            del chat["members"][userid]
            chat["version"] += 1
            event = self._chat_event(
                "update",
                chat["chat_id"],
                UpdateDetail="del_member",
                QuitScene=str(body.get("quit_scene", 0)),
                MemChangeCnt="1",
                MemChangeList={"Item": [userid]},
                LastMemVer=str(last),
                CurMemVer=str(chat["version"]),
            )
        return {
            "deliveries": self.emit(
                event, int(body.get("deliveries", 1)), bool(body.get("wait", True))
            )
        }

    def act_group_create(self, body: dict) -> dict:
        """Staff create a customer group in the client (owner + optional members)."""
        with self.lock:
            self._user(body["owner"])
            chat = self.chat_create(
                owner=body["owner"], name=body.get("name", ""), members=body.get("members") or []
            )
            event = self._chat_event("create", chat["chat_id"])
        deliveries = (
            self.emit(event, int(body.get("deliveries", 1)), bool(body.get("wait", True)))
            if body.get("callback", True)
            else []
        )
        return {"chat_id": chat["chat_id"], "deliveries": deliveries}


API: dict[str, Handler] = {
    "externalcontact/groupchat/list": GroupsMixin.groupchat_list,
    "externalcontact/groupchat/get": GroupsMixin.groupchat_get,
    "externalcontact/groupchat/add_join_way": GroupsMixin.join_way_add,
    "externalcontact/groupchat/get_join_way": GroupsMixin.join_way_get,
    "externalcontact/groupchat/update_join_way": GroupsMixin.join_way_update,
    "externalcontact/groupchat/del_join_way": GroupsMixin.join_way_del,
}
