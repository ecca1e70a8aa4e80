"""Handlers for ``change_external_tag``: re-read the changed part from WeCom and mirror it."""

from __future__ import annotations

from scrm.wecom.adapter import wecom

from .services import tag_groups_upsert_from_wecom, tag_mark_deleted


def on_tag_changed(fields: dict) -> None:
    """create/update of a tag or a group: fetch just that from ``get_corp_tag_list``."""
    wecom_id = fields.get("Id") or ""
    if fields.get("TagType") == "tag_group":
        groups = wecom.corp_tags(group_ids=[wecom_id])
        tag_groups_upsert_from_wecom(tag_groups=groups, scope_group_ids=[wecom_id])
    else:
        tag_groups_upsert_from_wecom(tag_groups=wecom.corp_tags(tag_ids=[wecom_id]))


def on_tag_deleted(fields: dict) -> None:
    tag_mark_deleted(wecom_id=fields.get("Id") or "", tag_type=fields.get("TagType") or "tag")


def on_tags_shuffled(fields: dict) -> None:
    """Order changed within a group (``Id``) or across all groups (no ``Id``)."""
    group_id = fields.get("Id") or ""
    if group_id:
        tag_groups_upsert_from_wecom(
            tag_groups=wecom.corp_tags(group_ids=[group_id]), scope_group_ids=[group_id]
        )
    else:
        tag_groups_upsert_from_wecom(tag_groups=wecom.corp_tags(), full=True)
