"""The nightly reconcile's tagging steps: corp tags first, customers' tags after customers.

Registered with ``scrm.wecom.sync`` from ``TaggingConfig.ready``. Tags go first so
that the customers' tag ids read later are known; the customers' tags are
mirrored from the ids the contacts customers step left in the run's context.
"""

from __future__ import annotations

from contacts.reconcile import CUSTOMER_WECOM_TAG_IDS
from scrm.wecom.adapter import wecom
from scrm.wecom.sync import ReconcileContext

from .services import customer_tags_mirror_from_wecom, tag_groups_upsert_from_wecom


def tags_pull(ctx: ReconcileContext) -> None:
    """Corp tag groups and tags; what WeCom no longer lists is marked deleted."""
    result = tag_groups_upsert_from_wecom(tag_groups=wecom.corp_tags(), full=True)
    for key, value in result.as_dict().items():
        ctx.report.add(key if key.startswith("tags_") else f"tag_{key}", value)


def customer_tags_pull(ctx: ReconcileContext) -> None:
    """Each customer read from WeCom gets the corp tags WeCom has for them."""
    for customer, wecom_tag_ids in ctx.shared.get(CUSTOMER_WECOM_TAG_IDS, {}).values():
        added, removed = customer_tags_mirror_from_wecom(
            customer=customer, wecom_tag_ids=wecom_tag_ids
        )
        ctx.report.add("customer_tags_added", added)
        ctx.report.add("customer_tags_removed", removed)
