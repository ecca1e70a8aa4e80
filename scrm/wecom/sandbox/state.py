"""The sandbox's in-memory WeCom: state, API semantics and WeCom's limits.

All state lives in one object guarded by one lock; the HTTP layer only parses
requests and serialises answers. Errcodes and messages follow WeCom's.
"""

from __future__ import annotations

import calendar
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


class ApiError(Exception):
    def __init__(self, errcode: int, errmsg: str):
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass
class SandboxConfig:
    corp_id: str = "ww_demo_corp"
    secret: str = "demo-contact-secret"  # noqa: S105 - demo values; from_settings() overrides them
    token: str = "demoToken"  # noqa: S105 - demo values; from_settings() overrides them
    aes_key: str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    agent_id: str = "1000002"
    callback_url: str = ""
    token_ttl_s: int = 7200
    welcome_code_ttl_s: float = 20.0
    group_max: int = 500
    group_qr_max: int = 200
    # 0: as many corp mass messages a month as the month has days (WeCom's current rule).
    mass_msg_per_month: int = 0
    corp_tag_max: int = 3000
    callback_timeout_s: float = 5.0
    callback_retries: int = 3
    callback_retry_interval_s: float = 1.0

    @classmethod
    def from_settings(cls, **overrides: Any) -> SandboxConfig:
        from django.conf import settings

        values = dict(
            corp_id=settings.WECOM_CORP_ID,
            secret=settings.WECOM_SECRET,
            token=settings.WECOM_TOKEN,
            aes_key=settings.WECOM_AES_KEY,
            agent_id=str(settings.WECOM_AGENT_ID),
            token_ttl_s=settings.WECOM_SANDBOX_TOKEN_TTL_S,
            welcome_code_ttl_s=settings.WECOM_SANDBOX_WELCOME_CODE_TTL_S,
            group_max=settings.WECOM_SANDBOX_GROUP_MAX,
            group_qr_max=settings.WECOM_SANDBOX_GROUP_QR_MAX,
            mass_msg_per_month=settings.WECOM_SANDBOX_MASS_MSG_PER_MONTH,
            corp_tag_max=settings.WECOM_SANDBOX_CORP_TAG_MAX,
            callback_timeout_s=settings.WECOM_SANDBOX_CALLBACK_TIMEOUT_S,
            callback_retries=settings.WECOM_SANDBOX_CALLBACK_RETRIES,
            callback_retry_interval_s=settings.WECOM_SANDBOX_CALLBACK_RETRY_INTERVAL_S,
        )
        values.update(overrides)
        return cls(**values)


def _id(prefix: str, n: int = 16) -> str:
    return prefix + secrets.token_hex(n // 2)


@dataclass
class Fault:
    """One injected failure for an endpoint (``times`` calls, or -1 for until cleared)."""

    errcode: int | None = None
    http_status: int | None = None
    latency_ms: int = 0
    timeout_s: float = 0.0
    times: int = 1
    # An answer that succeeds with these fields instead (e.g. ``{"follow_user": []}``:
    # WeCom answering empty lists, as with a wrong secret or missing permission).
    answer: dict | None = None


@dataclass
class State:
    tokens: dict[str, float] = field(default_factory=dict)
    users: dict[str, dict] = field(default_factory=dict)
    customers: dict[str, dict] = field(default_factory=dict)
    # (external_userid, userid) → follow info (WeCom's follow_user item + "tag_ids", "active")
    follows: dict[tuple[str, str], dict] = field(default_factory=dict)
    contact_ways: dict[str, dict] = field(default_factory=dict)
    welcome_codes: dict[str, dict] = field(default_factory=dict)
    welcome_sent: list[dict] = field(default_factory=list)
    tag_groups: dict[str, dict] = field(default_factory=dict)
    tags: dict[str, dict] = field(default_factory=dict)
    tag_marks: list[dict] = field(default_factory=list)
    chats: dict[str, dict] = field(default_factory=dict)
    join_ways: dict[str, dict] = field(default_factory=dict)
    msgs: dict[str, dict] = field(default_factory=dict)
    # (target id, "YYYY-MM") → corp mass messages received that month
    mass_received: dict[tuple[str, str], int] = field(default_factory=dict)
    oauth_codes: dict[str, str] = field(default_factory=dict)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    calls: list[dict] = field(default_factory=list)
    callbacks: list[dict] = field(default_factory=list)
    seq: int = 0
    group_welcome_templates: dict[str, dict] = field(default_factory=dict)
    # Messages said in customer groups: {"chat_id", "userid", "count", "at"} (statistics).
    chat_messages: list[dict] = field(default_factory=list)


# Endpoints that answer without a token.
NO_TOKEN = {"gettoken"}


class Sandbox:
    """WeCom's server side. ``api()`` answers one API request; ``act_*`` simulate people."""

    def __init__(self, config: SandboxConfig):
        self.config = config
        self.lock = threading.RLock()
        self.state = State()
        # Set by the server: sends one event to the app (fields → list of HTTP statuses).
        self.emit: Callable[[dict, int, bool], list] = lambda fields, deliveries, wait: []

    def reset(self, **config: Any) -> None:
        with self.lock:
            self.state = State()
            for key, value in config.items():
                if hasattr(self.config, key):
                    setattr(self.config, key, type(getattr(self.config, key))(value))

    def _next(self) -> int:
        self.state.seq += 1
        return self.state.seq

    # ------------------------------------------------------------------ faults
    def fault_for(self, endpoint: str) -> Fault | None:
        with self.lock:
            queue = self.state.faults.get(endpoint) or self.state.faults.get("*")
            if not queue:
                return None
            fault = queue[0]
            if fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    queue.pop(0)
            return fault

    # ------------------------------------------------------------------ the API
    def api(self, endpoint: str, query: dict[str, str], body: dict) -> dict:
        with self.lock:
            try:
                if endpoint not in NO_TOKEN:
                    self._check_token(query.get("access_token", ""))
                handler = API.get(endpoint)
                if handler is None:
                    raise ApiError(40058, f"sandbox does not know {endpoint}")
                result = handler(self, query, body) or {}
                answer = {"errcode": 0, "errmsg": "ok", **result}
            except ApiError as exc:
                answer = {
                    "errcode": exc.errcode,
                    "errmsg": f"{exc.errmsg}, hint: [sandbox], more info at https://open.work.weixin.qq.com/devtool/query?e={exc.errcode}",
                }
            self.state.calls.append(
                {"endpoint": endpoint, "errcode": answer["errcode"], "at": time.time()}
            )
            return answer

    def _check_token(self, token: str) -> None:
        if not token:
            raise ApiError(41001, "access_token missing")
        expires = self.state.tokens.get(token)
        if expires is None:
            raise ApiError(40014, "invalid access_token")
        if expires < time.time():
            raise ApiError(42001, "access_token expired")

    def gettoken(self, q: dict, b: dict) -> dict:
        if q.get("corpid") != self.config.corp_id:
            raise ApiError(40013, "invalid corpid")
        if q.get("corpsecret") != self.config.secret:
            raise ApiError(40001, "invalid credential")
        now = time.time()
        for token, expires in self.state.tokens.items():
            if expires > now:  # a repeat fetch within validity returns the same token
                return {"access_token": token, "expires_in": int(expires - now)}
        token = secrets.token_urlsafe(48)
        self.state.tokens[token] = now + self.config.token_ttl_s
        return {"access_token": token, "expires_in": self.config.token_ttl_s}

    # ------------------------------------------------------------------ staff
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

    # ------------------------------------------------------------------ customers
    def _active_follows(self, external_userid: str) -> list[dict]:
        return sorted(
            (
                f
                for (ext, _u), f in self.state.follows.items()
                if ext == external_userid and f["active"]
            ),
            key=lambda f: f["createtime"],
        )

    def _follow_public(self, f: dict, *, batch: bool = False) -> dict:
        out = {k: v for k, v in f.items() if k not in ("active", "tag_ids")}
        if batch:
            out["tag_id"] = list(f["tag_ids"])
        else:
            out["tags"] = [
                {
                    "group_name": self.state.tag_groups[self.state.tags[t]["group_id"]][
                        "group_name"
                    ],
                    "tag_name": self.state.tags[t]["name"],
                    "tag_id": t,
                    "type": 1,
                }
                for t in f["tag_ids"]
                if t in self.state.tags
            ]
        return out

    def customer_list(self, q: dict, b: dict) -> dict:
        userid = q.get("userid", "")
        self._user(userid)
        ids = [ext for (ext, u), f in self.state.follows.items() if u == userid and f["active"]]
        if not ids:
            raise ApiError(84061, "not external contact")
        return {"external_userid": ids}

    def customer_get(self, q: dict, b: dict) -> dict:
        ext = q.get("external_userid", "")
        if ext not in self.state.customers:
            raise ApiError(40096, "invalid external_userid")
        follows = self._active_follows(ext)
        if not follows:
            raise ApiError(84061, "not external contact")
        start = int(q.get("cursor") or 0)
        page = follows[start : start + 500]
        result = {
            "external_contact": dict(self.state.customers[ext]),
            "follow_user": [self._follow_public(f) for f in page],
        }
        if start + 500 < len(follows):
            result["next_cursor"] = str(start + 500)
        return result

    def batch_get_by_user(self, q: dict, b: dict) -> dict:
        userids = b.get("userid_list") or []
        if not userids or len(userids) > 100:
            raise ApiError(40058, "userid_list must hold 1 to 100 userids")
        limit = int(b.get("limit") or 50)
        if limit > 100:
            raise ApiError(40058, "limit must be at most 100")
        rows = [
            (ext, f)
            for (ext, u), f in sorted(
                self.state.follows.items(), key=lambda kv: (kv[0][1], kv[1]["createtime"], kv[0][0])
            )
            if u in userids and f["active"]
        ]
        start = int(b.get("cursor") or 0)
        page = rows[start : start + limit]
        return {
            "external_contact_list": [
                {
                    "external_contact": dict(self.state.customers[ext]),
                    "follow_info": self._follow_public(f, batch=True),
                }
                for ext, f in page
            ],
            "next_cursor": str(start + limit) if start + limit < len(rows) else "",
        }

    # ------------------------------------------------------------------ contact ways
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

    # ------------------------------------------------------------------ corp tags
    def _groups_public(self, group_ids: list[str], tag_ids: list[str]) -> list[dict]:
        out = []
        for gid, group in self.state.tag_groups.items():
            tags = [t for t in self.state.tags.values() if t["group_id"] == gid]
            if tag_ids:
                tags = [t for t in tags if t["id"] in tag_ids]
                if not tags:
                    continue
            elif group_ids and gid not in group_ids:
                continue
            out.append(
                {
                    **{k: v for k, v in group.items()},
                    "tag": [
                        {k: v for k, v in t.items() if k != "group_id"}
                        for t in sorted(tags, key=lambda t: -t["order"])
                    ],
                }
            )
        return out

    def corp_tag_list(self, q: dict, b: dict) -> dict:
        return {
            "tag_group": self._groups_public(
                list(b.get("group_id") or []), list(b.get("tag_id") or [])
            )
        }

    def corp_tag_add(self, q: dict, b: dict) -> dict:
        tags = b.get("tag") or []
        if not tags:
            raise ApiError(40058, "no empty tag groups")
        if len(self.state.tags) + len(tags) > self.config.corp_tag_max:
            raise ApiError(40071, "corp tag count over limit")
        group = None
        if b.get("group_id"):
            group = self.state.tag_groups.get(b["group_id"])
            if group is None:
                raise ApiError(40068, "invalid tagid")
        else:
            name = str(b.get("group_name") or "")
            if not name or len(name) > 30:
                raise ApiError(40058, "group_name is required, at most 30 characters")
            group = next(
                (g for g in self.state.tag_groups.values() if g["group_name"] == name), None
            )
            if group is None:
                gid = _id("et", 16)
                group = {
                    "group_id": gid,
                    "group_name": name,
                    "create_time": int(time.time()),
                    "order": int(b.get("order") or 0),
                    "deleted": False,
                }
                self.state.tag_groups[gid] = group
        for tag in tags:
            name = str(tag.get("name") or "")
            if not name or len(name) > 30:
                raise ApiError(40058, "tag name is required, at most 30 characters")
            if any(
                t["name"] == name and t["group_id"] == group["group_id"]
                for t in self.state.tags.values()
            ):
                raise ApiError(40071, "tag name exists in this group")
            tid = _id("et", 16)
            self.state.tags[tid] = {
                "id": tid,
                "name": name,
                "create_time": int(time.time()),
                "order": int(tag.get("order") or 0),
                "deleted": False,
                "group_id": group["group_id"],
            }
        return {"tag_group": self._groups_public([group["group_id"]], [])[0]}

    def corp_tag_edit(self, q: dict, b: dict) -> dict:
        target = self.state.tags.get(b.get("id") or "")
        if target is not None:
            if "name" in b:
                if not b["name"] or len(b["name"]) > 30:
                    raise ApiError(40058, "name at most 30 characters")
                target["name"] = b["name"]
            if "order" in b:
                target["order"] = int(b["order"])
            return {}
        group = self.state.tag_groups.get(b.get("id") or "")
        if group is None:
            raise ApiError(40068, "invalid tagid")
        if "name" in b:
            group["group_name"] = b["name"]
        if "order" in b:
            group["order"] = int(b["order"])
        return {}

    def corp_tag_del(self, q: dict, b: dict) -> dict:
        tag_ids, group_ids = list(b.get("tag_id") or []), list(b.get("group_id") or [])
        if not tag_ids and not group_ids:
            raise ApiError(40058, "tag_id and group_id cannot both be empty")
        for tid in tag_ids:
            if tid not in self.state.tags:
                raise ApiError(40068, "invalid tagid")
        for gid in group_ids:
            if gid not in self.state.tag_groups:
                raise ApiError(40068, "invalid tagid")
        self._tags_remove(tag_ids, group_ids)
        return {}

    def _tags_remove(self, tag_ids: list[str], group_ids: list[str]) -> None:
        for tid in tag_ids:
            self.state.tags.pop(tid, None)
        for gid in group_ids:
            self.state.tag_groups.pop(gid, None)
            for tid in [t for t, v in self.state.tags.items() if v["group_id"] == gid]:
                self.state.tags.pop(tid)
        # A group left empty is deleted.
        for gid in [
            g
            for g in self.state.tag_groups
            if not any(t["group_id"] == g for t in self.state.tags.values())
        ]:
            self.state.tag_groups.pop(gid)
        valid = set(self.state.tags)
        for follow in self.state.follows.values():
            follow["tag_ids"] = [t for t in follow["tag_ids"] if t in valid]

    def mark_tag(self, q: dict, b: dict) -> dict:
        add, remove = list(b.get("add_tag") or []), list(b.get("remove_tag") or [])
        if not add and not remove:
            raise ApiError(40058, "add_tag and remove_tag cannot both be empty")
        follow = self.state.follows.get((b.get("external_userid") or "", b.get("userid") or ""))
        if follow is None or not follow["active"]:
            raise ApiError(84061, "not external contact")
        for tid in add + remove:
            if tid not in self.state.tags:
                raise ApiError(40068, "invalid tagid")
        follow["tag_ids"] = [t for t in follow["tag_ids"] if t not in remove] + [
            t for t in add if t not in follow["tag_ids"]
        ]
        self.state.tag_marks.append(
            {
                "userid": b["userid"],
                "external_userid": b["external_userid"],
                "add_tag": add,
                "remove_tag": remove,
            }
        )
        return {}

    # ------------------------------------------------------------------ groups
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

    # ------------------------------------------------------------------ group statistics
    def _owner_day_data(self, owner: str, begin: int, end: int) -> dict:
        chats = [
            c
            for c in self.state.chats.values()
            if c["owner"] == owner and not c["dismissed"] and c["create_time"] < end
        ]
        ids = {c["chat_id"] for c in chats}
        said = [
            m for m in self.state.chat_messages if m["chat_id"] in ids and begin <= m["at"] < end
        ]
        members = [m for c in chats for m in c["members"].values()]
        return {
            "new_chat_cnt": sum(1 for c in chats if c["create_time"] >= begin),
            "chat_total": len(chats),
            "chat_has_msg": len({m["chat_id"] for m in said}),
            "new_member_cnt": sum(1 for m in members if begin <= m["join_time"] < end),
            "member_total": len(members),
            "member_has_msg": len({(m["chat_id"], m["userid"]) for m in said}),
            "msg_total": sum(m["count"] for m in said),
            "migrate_trainee_chat_cnt": 0,
        }

    def _stat_range(self, b: dict) -> tuple[int, int, list[str]]:
        begin = int(b.get("day_begin_time") or 0)
        if not begin:
            raise ApiError(40058, "day_begin_time is required")
        end = int(b.get("day_end_time") or begin) + 86400
        owners = list((b.get("owner_filter") or {}).get("userid_list") or [])
        if not owners or len(owners) > 100:
            raise ApiError(40058, "owner_filter must hold 1 to 100 userids")
        return begin, end, owners

    def groupchat_statistic(self, q: dict, b: dict) -> dict:
        begin, end, owners = self._stat_range(b)
        items = [{"owner": o, "data": self._owner_day_data(o, begin, end)} for o in owners]
        offset, limit = int(b.get("offset") or 0), int(b.get("limit") or 500)
        page = items[offset : offset + limit]
        nxt = offset + len(page)
        return {"total": len(items), "next_offset": nxt if nxt < len(items) else 0, "items": page}

    def groupchat_statistic_by_day(self, q: dict, b: dict) -> dict:
        begin, end, owners = self._stat_range(b)
        items = []
        for day in range(begin, end, 86400):
            per_owner = [self._owner_day_data(o, day, day + 86400) for o in owners]
            items.append(
                {
                    "stat_time": day,
                    "data": {k: sum(d[k] for d in per_owner) for k in per_owner[0]},
                }
            )
        return {"items": items}

    def act_group_message(self, body: dict) -> dict:
        """Someone says something in a customer group (feeds groupchat/statistic)."""
        with self.lock:
            chat = self._chat(body["chat_id"])
            userid = body.get("userid") or chat["owner"]
            self.state.chat_messages.append(
                {
                    "chat_id": chat["chat_id"],
                    "userid": userid,
                    "count": int(body.get("count", 1)),
                    "at": int(body.get("at") or time.time()),
                }
            )
            return {"ok": True}

    # ------------------------------------------------------------------ group welcome templates
    def _welcome_template_fields(self, b: dict) -> dict:
        content = (b.get("text") or {}).get("content", "")
        media = {k: b[k] for k in ("image", "link", "miniprogram", "file", "video") if b.get(k)}
        if not content and not media:
            raise ApiError(40058, "text or media required")
        if len(content.encode()) > 4000:
            raise ApiError(40058, "text.content at most 4000 bytes")
        return {"text": {"content": content}, **media}

    def group_welcome_template_add(self, q: dict, b: dict) -> dict:
        template_id = _id("gwt", 24)
        self.state.group_welcome_templates[template_id] = {
            "template_id": template_id,
            **self._welcome_template_fields(b),
            "notify": int(b.get("notify", 1)),
        }
        return {"template_id": template_id}

    def _welcome_template(self, template_id: str) -> dict:
        template = self.state.group_welcome_templates.get(template_id or "")
        if template is None:
            raise ApiError(41065, "invalid template_id")
        return template

    def group_welcome_template_edit(self, q: dict, b: dict) -> dict:
        template = self._welcome_template(b.get("template_id"))
        for key in ("image", "link", "miniprogram", "file", "video"):
            template.pop(key, None)
        template.update(self._welcome_template_fields(b))
        return {}

    def group_welcome_template_get(self, q: dict, b: dict) -> dict:
        template = self._welcome_template(b.get("template_id"))
        return {k: v for k, v in template.items() if k not in ("template_id", "notify")}

    def group_welcome_template_del(self, q: dict, b: dict) -> dict:
        self._welcome_template(b.get("template_id"))
        del self.state.group_welcome_templates[b["template_id"]]
        return {}

    # ------------------------------------------------------------------ mass messages
    def msg_template_add(self, q: dict, b: dict) -> dict:
        chat_type = b.get("chat_type") or "single"
        text = (b.get("text") or {}).get("content", "")
        if len(text.encode()) > 4000:
            raise ApiError(40058, "text over 4000 bytes")
        if len(b.get("attachments") or []) > 9:
            raise ApiError(40058, "at most 9 attachments")
        msgid = _id("msg", 24)
        targets: dict[str, list[str]] = {}
        fail_list: list[str] = []
        if chat_type == "group":
            sender = b.get("sender") or ""
            if not sender:
                raise ApiError(40058, "sender is required for group messages")
            self._user(sender)
            chat_ids = list(b.get("chat_id_list") or []) or [
                c["chat_id"]
                for c in self.state.chats.values()
                if c["owner"] == sender and not c["dismissed"]
            ]
            if len(chat_ids) > 2000:
                raise ApiError(40058, "at most 2000 chats")
            targets[sender] = [c for c in chat_ids if c in self.state.chats]
        else:
            ext_ids = list(b.get("external_userid") or [])
            if len(ext_ids) > 10000:
                raise ApiError(40058, "at most 10000 customers")
            sender = b.get("sender") or ""
            for ext in ext_ids:
                follows = [
                    f for f in self._active_follows(ext) if not sender or f["userid"] == sender
                ]
                if not follows:
                    fail_list.append(ext)
                    continue
                targets.setdefault(follows[0]["userid"], []).append(ext)
        if not any(targets.values()):
            raise ApiError(41048, "no customers to send to")
        self.state.msgs[msgid] = {
            "msgid": msgid,
            "chat_type": chat_type,
            "creator": b.get("sender") or next(iter(targets)),
            "create_time": int(time.time()),
            "create_type": 0,
            "text": b.get("text") or {},
            "attachments": b.get("attachments") or [],
            "targets": targets,
            "tasks": {u: {"userid": u, "status": 0, "send_time": 0} for u in targets},
            "results": {
                u: [
                    {
                        "userid": u,
                        ("chat_id" if chat_type == "group" else "external_userid"): t,
                        "status": 0,
                        "send_time": 0,
                    }
                    for t in ts
                ]
                for u, ts in targets.items()
            },
            "cancelled": False,
            "reminders": [],
        }
        return {"msgid": msgid, "fail_list": fail_list}

    def _msg(self, msgid: str) -> dict:
        msg = self.state.msgs.get(msgid or "")
        if msg is None:
            raise ApiError(40058, "invalid msgid")
        return msg

    def groupmsg_list(self, q: dict, b: dict) -> dict:
        start_t, end_t = int(b.get("start_time") or 0), int(b.get("end_time") or 0)
        if end_t - start_t > 31 * 86400 or end_t < start_t:
            raise ApiError(40058, "start_time and end_time at most one month apart")
        msgs = [
            m
            for m in self.state.msgs.values()
            if start_t <= m["create_time"] <= end_t
            and m["chat_type"] == (b.get("chat_type") or "single")
            and (not b.get("creator") or m["creator"] == b["creator"])
        ]
        limit = min(int(b.get("limit") or 50), 100)
        start = int(b.get("cursor") or 0)
        return {
            "group_msg_list": [
                {
                    k: m[k]
                    for k in (
                        "msgid",
                        "creator",
                        "create_time",
                        "create_type",
                        "text",
                        "attachments",
                    )
                }
                for m in msgs[start : start + limit]
            ],
            "next_cursor": str(start + limit) if start + limit < len(msgs) else "",
        }

    def groupmsg_task(self, q: dict, b: dict) -> dict:
        msg = self._msg(b.get("msgid"))
        tasks = list(msg["tasks"].values())
        limit = min(int(b.get("limit") or 500), 1000)
        start = int(b.get("cursor") or 0)
        return {
            "task_list": tasks[start : start + limit],
            "next_cursor": str(start + limit) if start + limit < len(tasks) else "",
        }

    def groupmsg_send_result(self, q: dict, b: dict) -> dict:
        msg = self._msg(b.get("msgid"))
        rows = list(msg["results"].get(b.get("userid") or "", []))
        limit = min(int(b.get("limit") or 500), 1000)
        start = int(b.get("cursor") or 0)
        return {
            "send_list": rows[start : start + limit],
            "next_cursor": str(start + limit) if start + limit < len(rows) else "",
        }

    def groupmsg_remind(self, q: dict, b: dict) -> dict:
        msg = self._msg(b.get("msgid"))
        if msg["cancelled"]:
            raise ApiError(41093, "mass message cancelled")
        now = time.time()
        msg["reminders"] = [t for t in msg["reminders"] if t > now - 86400]
        if len(msg["reminders"]) >= 3:
            raise ApiError(41094, "too many reminders")
        msg["reminders"].append(now)
        return {}

    def groupmsg_cancel(self, q: dict, b: dict) -> dict:
        msg = self._msg(b.get("msgid"))
        msg["cancelled"] = True
        return {}

    def _mass_quota(self) -> int:
        if self.config.mass_msg_per_month > 0:
            return self.config.mass_msg_per_month
        today = time.localtime()
        return calendar.monthrange(today.tm_year, today.tm_mon)[1]

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

    def _customer_ensure(
        self, external_userid: str | None, name: str = "", unionid: str = ""
    ) -> str:
        ext = external_userid or _id("wm", 32)
        if ext not in self.state.customers:
            self.state.customers[ext] = {
                "external_userid": ext,
                "name": name or f"客户{len(self.state.customers) + 1}",
                "type": 1,
                "gender": 0,
                "avatar": "",
                "unionid": unionid or _id("o", 28),
            }
        elif name:
            self.state.customers[ext]["name"] = name
        return ext

    def _follow_add(
        self, ext: str, userid: str, *, state: str, add_way: int, oper_userid: str = ""
    ) -> dict:
        self._user(userid)
        now = int(time.time())
        follow = self.state.follows.get((ext, userid))
        if follow is None or not follow["active"]:
            follow = {
                "userid": userid,
                "remark": "",
                "description": "",
                "createtime": now,
                "remark_corp_name": "",
                "remark_mobiles": [],
                "oper_userid": oper_userid or ext,
                "add_way": add_way,
                "state": state,
                "tag_ids": [],
                "active": True,
            }
            self.state.follows[(ext, userid)] = follow
        return follow

    def seed_customers(self, customers: list[dict]) -> list[str]:
        """Customers that already exist in WeCom (no callbacks): for sync and demo data."""
        with self.lock:
            out = []
            for c in customers:
                ext = self._customer_ensure(
                    c.get("external_userid"), c.get("name", ""), c.get("unionid", "")
                )
                for f in c.get("follow") or []:
                    follow = self._follow_add(
                        ext, f["userid"], state=f.get("state", ""), add_way=int(f.get("add_way", 1))
                    )
                    follow["tag_ids"] = [t for t in f.get("tag_ids", []) if t in self.state.tags]
                    if f.get("remark"):
                        follow["remark"] = f["remark"]
                out.append(ext)
            return out

    def act_scan(self, body: dict) -> dict:
        """A customer scans a contact way (or adds ``userid`` directly): add_external_contact."""
        with self.lock:
            way = self._way(body["config_id"]) if body.get("config_id") else None
            if way is not None:
                users = [
                    u for u in way["user"] if self.state.users.get(u, {}).get("status") != "left"
                ]
                if not users:
                    raise ApiError(60111, "no member on this contact way")
                userid = body.get("userid") or users[way["rr"] % len(users)]
                way["rr"] += 1
                state, add_way = way.get("state", ""), 1
            else:
                userid, state, add_way = (
                    body["userid"],
                    body.get("state", ""),
                    int(body.get("add_way", 1)),
                )
            half = bool(body.get("half", False))
            ext = self._customer_ensure(body.get("external_userid"), body.get("name", ""))
            follow = self._follow_add(ext, userid, state=state, add_way=add_way)
            if body.get("remark_mobiles"):
                # The manager notes the customer's mobile in the client as they add them.
                follow["remark_mobiles"] = [str(m) for m in body["remark_mobiles"]]
            fields = self._contact_event(
                "add_half_external_contact" if half else "add_external_contact", userid, ext
            )
            if state:
                fields["State"] = state
            code = ""
            if body.get("welcome_code", True):
                code = _id("wc", 32)
                self.state.welcome_codes[code] = {
                    "external_userid": ext,
                    "userid": userid,
                    "expires_at": time.time() + self.config.welcome_code_ttl_s,
                    "used": False,
                }
                fields["WelcomeCode"] = code
        deliveries = self.emit(fields, int(body.get("deliveries", 1)), bool(body.get("wait", True)))
        return {
            "external_userid": ext,
            "userid": userid,
            "state": follow["state"],
            "welcome_code": code,
            "deliveries": deliveries,
        }

    def _contact_event(self, change_type: str, userid: str, ext: str) -> dict:
        return {
            "ToUserName": self.config.corp_id,
            "FromUserName": "sys",
            "CreateTime": str(int(time.time())),
            "MsgType": "event",
            "Event": "change_external_contact",
            "ChangeType": change_type,
            "UserID": userid,
            "ExternalUserID": ext,
        }

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

    def act_follow_end(self, body: dict, *, by_customer: bool) -> dict:
        with self.lock:
            follow = self.state.follows.get((body["external_userid"], body["userid"]))
            if follow is None or not follow["active"]:
                raise ApiError(84061, "not external contact")
            follow["active"] = False
            fields = self._contact_event(
                "del_follow_user" if by_customer else "del_external_contact",
                body["userid"],
                body["external_userid"],
            )
        return {
            "deliveries": self.emit(
                fields, int(body.get("deliveries", 1)), bool(body.get("wait", True))
            )
        }

    def act_confirm_mass_message(self, body: dict) -> dict:
        """The sender confirms a mass message in the client: results per target, with quotas."""
        with self.lock:
            msg = self._msg(body["msgid"])
            userid = body["userid"]
            if msg["cancelled"]:
                raise ApiError(41093, "mass message cancelled")
            task = msg["tasks"].get(userid)
            if task is None:
                raise ApiError(40058, "no task for this sender")
            now = int(time.time())
            month = time.strftime("%Y-%m")
            quota = self._mass_quota()
            for row in msg["results"][userid]:
                if row["status"] != 0:
                    continue
                target = row.get("external_userid") or row.get("chat_id")
                if "external_userid" in row:
                    follow = self.state.follows.get((target, userid))
                    if follow is None or not follow["active"]:
                        row["status"] = 2
                        continue
                sent = self.state.mass_received.get((target, month), 0)
                if sent >= quota:
                    row["status"] = 3
                    continue
                self.state.mass_received[(target, month)] = sent + 1
                row["status"], row["send_time"] = 1, now
            task["status"], task["send_time"] = 2, now
            return {"results": msg["results"][userid]}

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

    def snapshot(self) -> dict:
        with self.lock:
            s = self.state
            return {
                "users": list(s.users.values()),
                "customers": list(s.customers.values()),
                "follows": [
                    {"external_userid": ext, **{k: v for k, v in f.items()}}
                    for (ext, _u), f in s.follows.items()
                ],
                "contact_ways": list(s.contact_ways.values()),
                "welcome_sent": list(s.welcome_sent),
                "tag_groups": self._groups_public([], []),
                "tag_marks": list(s.tag_marks),
                "chats": [
                    {
                        **{k: v for k, v in c.items() if k != "members"},
                        "member_list": list(c["members"].values()),
                    }
                    for c in s.chats.values()
                ],
                "join_ways": list(s.join_ways.values()),
                "group_welcome_templates": list(s.group_welcome_templates.values()),
                "chat_messages": list(s.chat_messages),
                "msgs": [{k: v for k, v in m.items()} for m in s.msgs.values()],
                "faults": {k: [asdict(f) for f in v] for k, v in s.faults.items()},
                "callbacks": list(s.callbacks),
                "config": asdict(self.config),
            }


API: dict[str, Callable[[Sandbox, dict, dict], dict]] = {
    "gettoken": Sandbox.gettoken,
    "user/get": Sandbox.user_get,
    "auth/getuserinfo": Sandbox.oauth_getuserinfo,
    "user/getuserinfo": Sandbox.oauth_getuserinfo,
    "externalcontact/get_follow_user_list": Sandbox.follow_user_list,
    "externalcontact/list": Sandbox.customer_list,
    "externalcontact/get": Sandbox.customer_get,
    "externalcontact/batch/get_by_user": Sandbox.batch_get_by_user,
    "externalcontact/add_contact_way": Sandbox.contact_way_add,
    "externalcontact/get_contact_way": Sandbox.contact_way_get,
    "externalcontact/update_contact_way": Sandbox.contact_way_update,
    "externalcontact/del_contact_way": Sandbox.contact_way_del,
    "externalcontact/send_welcome_msg": Sandbox.send_welcome_msg,
    "externalcontact/get_corp_tag_list": Sandbox.corp_tag_list,
    "externalcontact/add_corp_tag": Sandbox.corp_tag_add,
    "externalcontact/edit_corp_tag": Sandbox.corp_tag_edit,
    "externalcontact/del_corp_tag": Sandbox.corp_tag_del,
    "externalcontact/mark_tag": Sandbox.mark_tag,
    "externalcontact/groupchat/list": Sandbox.groupchat_list,
    "externalcontact/groupchat/get": Sandbox.groupchat_get,
    "externalcontact/groupchat/add_join_way": Sandbox.join_way_add,
    "externalcontact/groupchat/get_join_way": Sandbox.join_way_get,
    "externalcontact/groupchat/update_join_way": Sandbox.join_way_update,
    "externalcontact/groupchat/del_join_way": Sandbox.join_way_del,
    "externalcontact/groupchat/statistic": Sandbox.groupchat_statistic,
    "externalcontact/groupchat/statistic_group_by_day": Sandbox.groupchat_statistic_by_day,
    "externalcontact/group_welcome_template/add": Sandbox.group_welcome_template_add,
    "externalcontact/group_welcome_template/edit": Sandbox.group_welcome_template_edit,
    "externalcontact/group_welcome_template/get": Sandbox.group_welcome_template_get,
    "externalcontact/group_welcome_template/del": Sandbox.group_welcome_template_del,
    "externalcontact/add_msg_template": Sandbox.msg_template_add,
    "externalcontact/get_groupmsg_list_v2": Sandbox.groupmsg_list,
    "externalcontact/get_groupmsg_task": Sandbox.groupmsg_task,
    "externalcontact/get_groupmsg_send_result": Sandbox.groupmsg_send_result,
    "externalcontact/remind_groupmsg_send": Sandbox.groupmsg_remind,
    "externalcontact/cancel_groupmsg_send": Sandbox.groupmsg_cancel,
}

# Customer transfers live in their own module (it imports ApiError from here).
from .transfers import API as _TRANSFER_API  # noqa: E402

API.update(_TRANSFER_API)
