"""Running a callback event through the inbox in-process (store, then process)."""

from __future__ import annotations

import time

from django.conf import settings

from scrm.wecom.inbox import inbox_event_process, inbox_event_store
from scrm.wecom.models import InboxEvent


def deliver(fields: dict) -> InboxEvent:
    full = {
        "ToUserName": settings.WECOM_CORP_ID,
        "FromUserName": "sys",
        "CreateTime": str(int(time.time())),
        "MsgType": "event",
        **fields,
    }
    event_id = inbox_event_store(fields=full)
    assert event_id is not None
    inbox_event_process(event_id=event_id)
    return InboxEvent.objects.get(id=event_id)


def scan_and_process(sandbox, **scan) -> tuple[dict, InboxEvent]:
    """A customer scans (in the sandbox), and the app processes the resulting event."""
    result = sandbox.control("scan", **scan)
    state = sandbox.sandbox.state
    fields = {
        "Event": "change_external_contact",
        "ChangeType": "add_half_external_contact" if scan.get("half") else "add_external_contact",
        "UserID": result["userid"],
        "ExternalUserID": result["external_userid"],
    }
    if result["state"]:
        fields["State"] = result["state"]
    if result["welcome_code"]:
        fields["WelcomeCode"] = result["welcome_code"]
    assert state is sandbox.sandbox.state
    return result, deliver(fields)
