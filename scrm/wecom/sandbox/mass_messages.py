"""The sandbox's corp mass messages (群发): tasks per sender, results per target, monthly quotas."""

from __future__ import annotations

import calendar
import time

from .base import ApiError, Handler, SandboxBase, _id


class MassMessagesMixin(SandboxBase):
    """``add_msg_template`` and ``*groupmsg*``; senders confirm in the client."""

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


API: dict[str, Handler] = {
    "externalcontact/add_msg_template": MassMessagesMixin.msg_template_add,
    "externalcontact/get_groupmsg_list_v2": MassMessagesMixin.groupmsg_list,
    "externalcontact/get_groupmsg_task": MassMessagesMixin.groupmsg_task,
    "externalcontact/get_groupmsg_send_result": MassMessagesMixin.groupmsg_send_result,
    "externalcontact/remind_groupmsg_send": MassMessagesMixin.groupmsg_remind,
    "externalcontact/cancel_groupmsg_send": MassMessagesMixin.groupmsg_cancel,
}
