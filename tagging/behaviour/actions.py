"""Our own actions as behaviour events (source ``action``), registered on the hooks of
the apps below from ``BehaviourConfig.ready``. Each event id is built from the
action's own identity (group, customer, moment), so a replayed callback or a second
reconcile that reports the same change records nothing new."""

from __future__ import annotations

from django.utils import timezone

from . import types
from .services import event_record


def _epoch(at) -> int:
    return int((at or timezone.now()).timestamp())


def on_member_joined(*, group, customer, joined_at=None, join_scene=None, state="", **_):
    at = joined_at or timezone.now()
    event_record(
        customer_id=customer.pk,
        type=types.GROUP_JOINED,
        event_id=f"group_joined:{group.pk}:{customer.pk}:{_epoch(at)}",
        properties={
            "group": group.pk,
            "region": group.region_id,
            "join_scene": join_scene,
            "state": state or "",
        },
        occurred_at=at,
    )


def on_member_left(*, group, customer, left_at=None, **_):
    at = left_at or timezone.now()
    event_record(
        customer_id=customer.pk,
        type=types.GROUP_LEFT,
        event_id=f"group_left:{group.pk}:{customer.pk}:{_epoch(at)}",
        properties={"group": group.pk, "region": group.region_id},
        occurred_at=at,
    )


def on_customer_added(*, customer, staff, relation=None, state="", added_at=None, **_):
    at = added_at or timezone.now()
    event_record(
        customer_id=customer.pk,
        type=types.FRIEND_ADDED,
        event_id=f"friend_added:{customer.pk}:{staff.pk}:{_epoch(at)}",
        properties={"staff": staff.userid, "state": state or ""},
        occurred_at=at,
    )
