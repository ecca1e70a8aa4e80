"""Domain-level WeCom calls: ``from scrm.wecom.adapter import wecom``.

Small typed methods named for what they do; each is one (or a page loop of)
WeCom API call(s) through :class:`~scrm.wecom.client.WeComClient`. Errors are
the typed exceptions of :mod:`scrm.wecom.errors`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from django.conf import settings

from .client import WeComClient
from .errors import NOT_EXTERNAL_CONTACT, WeComPermanentError


class WeCom:
    """The app's WeCom adapter; the client follows the current settings (tests repoint it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple, WeComClient] = {}

    @property
    def client(self) -> WeComClient:
        from scrm.core.health import redis_client

        key = (
            settings.WECOM_CORP_ID,
            settings.WECOM_SECRET,
            settings.WECOM_API_BASE,
            settings.REDIS_URL,
            threading.get_ident(),
        )
        client = self._clients.get(key)
        if client is None:
            # One client (one requests.Session) per thread: Sessions are not thread-safe.
            with self._lock:
                client = self._clients.setdefault(
                    key,
                    WeComClient(
                        corp_id=settings.WECOM_CORP_ID,
                        secret=settings.WECOM_SECRET,
                        api_base=settings.WECOM_API_BASE,
                        redis_client=redis_client(),
                    ),
                )
        return client

    def _get(self, endpoint: str, **params: Any) -> dict:
        return self.client.get(endpoint, params=params)

    def _post(self, endpoint: str, data: dict) -> dict:
        return self.client.post(endpoint, data=data)

    # ------------------------------------------------------------------ staff
    def user_get(self, userid: str) -> dict:
        return self._get("user/get", userid=userid)

    def oauth_userinfo(self, code: str) -> dict:
        """OAuth login of a manager: ``{"userid": ...}`` (or ``openid`` for non-members)."""
        result = self._get("auth/getuserinfo", code=code)
        if "UserId" in result and "userid" not in result:
            result["userid"] = result["UserId"]
        return result

    def follow_users(self) -> list[str]:
        return list(self._get("externalcontact/get_follow_user_list").get("follow_user", []))

    # ------------------------------------------------------------------ customers
    def customer_ids(self, userid: str) -> list[str]:
        try:
            return list(self._get("externalcontact/list", userid=userid).get("external_userid", []))
        except WeComPermanentError as exc:
            if exc.errcode == NOT_EXTERNAL_CONTACT:
                return []  # a member with no customers
            raise

    def customer_get(self, external_userid: str) -> dict:
        """``{"external_contact": {...}, "follow_user": [...]}``, all pages of followers."""
        result = self._get("externalcontact/get", external_userid=external_userid)
        follow = list(result.get("follow_user", []))
        cursor = result.get("next_cursor")
        while cursor:
            page = self._get("externalcontact/get", external_userid=external_userid, cursor=cursor)
            follow.extend(page.get("follow_user", []))
            cursor = page.get("next_cursor")
        return {"external_contact": result.get("external_contact", {}), "follow_user": follow}

    def customers_by_user(self, userids: list[str], *, limit: int = 100) -> Iterator[dict]:
        """Every ``{external_contact, follow_info}`` of these staff (≤100 a call), page by page."""
        for i in range(0, len(userids), 100):
            cursor = ""
            while True:
                page = self._post(
                    "externalcontact/batch/get_by_user",
                    {"userid_list": userids[i : i + 100], "cursor": cursor, "limit": limit},
                )
                yield from page.get("external_contact_list", [])
                cursor = page.get("next_cursor") or ""
                if not cursor:
                    break

    def openid_for(self, external_userid: str) -> str:
        """The customer's openid in the corp's payment app (``convert_to_openid``), for
        WeChat Pay: only WeChat users (``wm…``) have one (40096 otherwise)."""
        return str(
            self._post("externalcontact/convert_to_openid", {"external_userid": external_userid})[
                "openid"
            ]
        )

    # ------------------------------------------------------------------ contact ways
    def contact_way_add(self, **fields: Any) -> dict:
        return self._post("externalcontact/add_contact_way", fields)

    def contact_way_get(self, config_id: str) -> dict:
        return self._post("externalcontact/get_contact_way", {"config_id": config_id})[
            "contact_way"
        ]

    def contact_way_update(self, config_id: str, **fields: Any) -> None:
        self._post("externalcontact/update_contact_way", {"config_id": config_id, **fields})

    def contact_way_delete(self, config_id: str) -> None:
        self._post("externalcontact/del_contact_way", {"config_id": config_id})

    def welcome_msg_send(
        self, welcome_code: str, *, text: str = "", attachments: list[dict] | None = None
    ) -> None:
        data: dict[str, Any] = {"welcome_code": welcome_code}
        if text:
            data["text"] = {"content": text}
        if attachments:
            data["attachments"] = attachments[:9]
        self._post("externalcontact/send_welcome_msg", data)

    # ------------------------------------------------------------------ corp tags
    def corp_tags(
        self, *, tag_ids: list[str] | None = None, group_ids: list[str] | None = None
    ) -> list[dict]:
        data = {"tag_id": tag_ids or [], "group_id": group_ids or []}
        return list(self._post("externalcontact/get_corp_tag_list", data).get("tag_group", []))

    def corp_tag_add(
        self, *, tags: list[dict], group_id: str = "", group_name: str = "", order: int = 0
    ) -> dict:
        data: dict[str, Any] = {"tag": tags, "order": order}
        if group_id:
            data["group_id"] = group_id
        else:
            data["group_name"] = group_name
        return self._post("externalcontact/add_corp_tag", data)["tag_group"]

    def corp_tag_edit(self, id: str, *, name: str | None = None, order: int | None = None) -> None:  # noqa: A002
        data: dict[str, Any] = {"id": id}
        if name is not None:
            data["name"] = name
        if order is not None:
            data["order"] = order
        self._post("externalcontact/edit_corp_tag", data)

    def corp_tag_delete(
        self, *, tag_ids: list[str] | None = None, group_ids: list[str] | None = None
    ) -> None:
        self._post(
            "externalcontact/del_corp_tag", {"tag_id": tag_ids or [], "group_id": group_ids or []}
        )

    def tags_mark(
        self,
        *,
        userid: str,
        external_userid: str,
        add: list[str] | None = None,
        remove: list[str] | None = None,
    ) -> None:
        self._post(
            "externalcontact/mark_tag",
            {
                "userid": userid,
                "external_userid": external_userid,
                "add_tag": add or [],
                "remove_tag": remove or [],
            },
        )

    # ------------------------------------------------------------------ transfers
    def customers_transfer(
        self,
        *,
        handover_userid: str,
        takeover_userid: str,
        external_userids: list[str],
        resigned: bool,
        message: str = "",
    ) -> dict[str, int]:
        """Hand customers over (≤100 a call): ``{external_userid: errcode}`` per customer.

        ``resigned``: the member left (离职继承); otherwise they still serve (在职继承)
        and the customer may refuse. 40128: transferred twice in 90 days already.
        """
        endpoint = (
            "externalcontact/resigned/transfer_customer"
            if resigned
            else "externalcontact/transfer_customer"
        )
        out: dict[str, int] = {}
        for i in range(0, len(external_userids), 100):
            data: dict[str, Any] = {
                "handover_userid": handover_userid,
                "takeover_userid": takeover_userid,
                "external_userid": external_userids[i : i + 100],
            }
            if message and not resigned:
                data["transfer_success_msg"] = message[:200]
            result = self._post(endpoint, data)
            for row in result.get("customer", []):
                out[row["external_userid"]] = int(row.get("errcode") or 0)
        return out

    def transfer_results(
        self, *, handover_userid: str, takeover_userid: str, resigned: bool
    ) -> Iterator[dict]:
        """``{external_userid, status (1 done, 2 waiting, 3 refused, 4 limit), takeover_time}``."""
        endpoint = (
            "externalcontact/resigned/transfer_result"
            if resigned
            else "externalcontact/transfer_result"
        )
        cursor = ""
        while True:
            page = self._post(
                endpoint,
                {
                    "handover_userid": handover_userid,
                    "takeover_userid": takeover_userid,
                    "cursor": cursor,
                },
            )
            yield from page.get("customer", [])
            cursor = page.get("next_cursor") or ""
            if not cursor:
                break

    # ------------------------------------------------------------------ groups
    def group_chats(
        self, *, owners: list[str] | None = None, status_filter: int = 0, limit: int = 1000
    ) -> Iterator[dict]:
        """Every ``{chat_id, status}``, page by page (owner filter in chunks of 100)."""
        owner_chunks: list[list[str] | None] = (
            [owners[i : i + 100] for i in range(0, len(owners), 100)] if owners else [None]
        )
        for chunk in owner_chunks:
            cursor = ""
            while True:
                data: dict[str, Any] = {
                    "status_filter": status_filter,
                    "cursor": cursor,
                    "limit": limit,
                }
                if chunk:
                    data["owner_filter"] = {"userid_list": chunk}
                page = self._post("externalcontact/groupchat/list", data)
                yield from page.get("group_chat_list", [])
                cursor = page.get("next_cursor") or ""
                if not cursor:
                    break

    def group_chat_get(self, chat_id: str) -> dict:
        return self._post("externalcontact/groupchat/get", {"chat_id": chat_id, "need_name": 1})[
            "group_chat"
        ]

    def join_way_add(self, **fields: Any) -> str:
        return self._post("externalcontact/groupchat/add_join_way", fields)["config_id"]

    def join_way_get(self, config_id: str) -> dict:
        return self._post("externalcontact/groupchat/get_join_way", {"config_id": config_id})[
            "join_way"
        ]

    def join_way_update(self, config_id: str, **fields: Any) -> None:
        self._post("externalcontact/groupchat/update_join_way", {"config_id": config_id, **fields})

    def join_way_delete(self, config_id: str) -> None:
        self._post("externalcontact/groupchat/del_join_way", {"config_id": config_id})

    def group_statistic(
        self, *, day_begin: int, day_end: int | None = None, owners: list[str]
    ) -> Iterator[dict]:
        """Per owner ``{owner, data{chat_total, chat_has_msg, msg_total, new_member_cnt, …}}``
        of ``groupchat/statistic`` (owners in chunks of 100, all pages)."""
        for i in range(0, len(owners), 100):
            offset = 0
            while True:
                data: dict[str, Any] = {
                    "day_begin_time": day_begin,
                    "owner_filter": {"userid_list": owners[i : i + 100]},
                    "offset": offset,
                    "limit": 1000,
                }
                if day_end is not None:
                    data["day_end_time"] = day_end
                page = self._post("externalcontact/groupchat/statistic", data)
                items = page.get("items", [])
                yield from items
                offset = int(page.get("next_offset") or 0)
                if not items or not offset or offset >= int(page.get("total") or 0):
                    break

    def group_statistic_by_day(
        self, *, day_begin: int, day_end: int, owners: list[str]
    ) -> list[dict]:
        """``[{stat_time, data{…}}]`` summed over ``owners`` (≤100), one item a day."""
        return list(
            self._post(
                "externalcontact/groupchat/statistic_group_by_day",
                {
                    "day_begin_time": day_begin,
                    "day_end_time": day_end,
                    "owner_filter": {"userid_list": owners[:100]},
                },
            ).get("items", [])
        )

    def group_welcome_template_add(self, *, text: str, notify: bool = True, **media: Any) -> str:
        """A group welcome template (入群欢迎语素材); ``notify`` asks owners to apply it."""
        data = {"text": {"content": text}, "notify": int(notify), **media}
        return self._post("externalcontact/group_welcome_template/add", data)["template_id"]

    def group_welcome_template_edit(self, template_id: str, *, text: str, **media: Any) -> None:
        self._post(
            "externalcontact/group_welcome_template/edit",
            {"template_id": template_id, "text": {"content": text}, **media},
        )

    def group_welcome_template_get(self, template_id: str) -> dict:
        return self._post(
            "externalcontact/group_welcome_template/get", {"template_id": template_id}
        )

    def group_welcome_template_delete(self, template_id: str) -> None:
        self._post("externalcontact/group_welcome_template/del", {"template_id": template_id})

    # ------------------------------------------------------------------ mass messages
    def msg_template_add(self, **fields: Any) -> dict:
        """``{"msgid": ..., "fail_list": [...]}``; nothing is sent until staff confirm."""
        return self._post("externalcontact/add_msg_template", fields)

    def group_msgs(self, **filters: Any) -> Iterator[dict]:
        cursor = ""
        while True:
            page = self._post("externalcontact/get_groupmsg_list_v2", {**filters, "cursor": cursor})
            yield from page.get("group_msg_list", [])
            cursor = page.get("next_cursor") or ""
            if not cursor:
                break

    def group_msg_tasks(self, msgid: str) -> Iterator[dict]:
        cursor = ""
        while True:
            page = self._post(
                "externalcontact/get_groupmsg_task",
                {"msgid": msgid, "limit": 1000, "cursor": cursor},
            )
            yield from page.get("task_list", [])
            cursor = page.get("next_cursor") or ""
            if not cursor:
                break

    def group_msg_send_results(self, msgid: str, userid: str) -> Iterator[dict]:
        cursor = ""
        while True:
            page = self._post(
                "externalcontact/get_groupmsg_send_result",
                {"msgid": msgid, "userid": userid, "limit": 1000, "cursor": cursor},
            )
            yield from page.get("send_list", [])
            cursor = page.get("next_cursor") or ""
            if not cursor:
                break

    def group_msg_remind(self, msgid: str) -> None:
        self._post("externalcontact/remind_groupmsg_send", {"msgid": msgid})

    def group_msg_cancel(self, msgid: str) -> None:
        self._post("externalcontact/cancel_groupmsg_send", {"msgid": msgid})


wecom = WeCom()
