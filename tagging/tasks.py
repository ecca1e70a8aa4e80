"""Thin tasks for corp tags mirrored with WeCom."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="tagging.tasks.corp_tags_sync", ignore_result=True)
def corp_tags_sync() -> dict:
    """Mirror every WeCom corp tag group/tag (full reconciliation)."""
    from scrm.wecom.adapter import wecom
    from scrm.wecom.client import triggered_by

    from .services import tag_groups_upsert_from_wecom

    with triggered_by("task:corp_tags_sync"):
        report = tag_groups_upsert_from_wecom(tag_groups=wecom.corp_tags(), full=True)
    return report.as_dict()
