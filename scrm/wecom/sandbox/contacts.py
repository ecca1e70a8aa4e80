"""The sandbox's customers and their follow relations with members.

Relations are keyed ``(external_userid, userid)``; an ended one stays with
``active`` false. Customers arrive by scanning a contact way (or seeding) and
leave when either side deletes the other.
"""

from __future__ import annotations

import time

from .base import ApiError, Handler, SandboxBase, _id


class ContactsMixin(SandboxBase):
    """``externalcontact/list|get|batch/get_by_user`` and the contact-change callbacks."""

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

    def convert_to_openid(self, q: dict, b: dict) -> dict:
        """The customer's openid in the corp's payment app (stable per corp and customer)."""
        import hashlib

        ext = str(b.get("external_userid") or "")
        customer = self.state.customers.get(ext)
        if customer is None or int(customer.get("type") or 1) != 1:
            raise ApiError(40096, "invalid external_userid")
        digest = hashlib.sha256(f"{self.config.corp_id}:{ext}".encode()).hexdigest()
        return {"openid": "oSbx" + digest[:24]}

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

    # ------------------------------------------------------------------ people's actions
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


API: dict[str, Handler] = {
    "externalcontact/list": ContactsMixin.customer_list,
    "externalcontact/get": ContactsMixin.customer_get,
    "externalcontact/batch/get_by_user": ContactsMixin.batch_get_by_user,
    "externalcontact/convert_to_openid": ContactsMixin.convert_to_openid,
}
