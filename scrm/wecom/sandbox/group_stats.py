"""The sandbox's customer-group statistics, computed from the chats and what is said in them."""

from __future__ import annotations

import time

from .base import ApiError, Handler, SandboxBase


class GroupStatsMixin(SandboxBase):
    """``groupchat/statistic`` and ``statistic_group_by_day``, per owner and day."""

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

    # ------------------------------------------------------------------ people's actions
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


API: dict[str, Handler] = {
    "externalcontact/groupchat/statistic": GroupStatsMixin.groupchat_statistic,
    "externalcontact/groupchat/statistic_group_by_day": GroupStatsMixin.groupchat_statistic_by_day,
}
