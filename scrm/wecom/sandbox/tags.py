"""The sandbox's corp tags: tag groups, tags and marking them on follow relations."""

from __future__ import annotations

import time

from .base import ApiError, Handler, SandboxBase, _id


class TagsMixin(SandboxBase):
    """``externalcontact/*_corp_tag*`` and ``mark_tag``; a group left empty is deleted."""

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


API: dict[str, Handler] = {
    "externalcontact/get_corp_tag_list": TagsMixin.corp_tag_list,
    "externalcontact/add_corp_tag": TagsMixin.corp_tag_add,
    "externalcontact/edit_corp_tag": TagsMixin.corp_tag_edit,
    "externalcontact/del_corp_tag": TagsMixin.corp_tag_del,
    "externalcontact/mark_tag": TagsMixin.mark_tag,
}
