"""Building callback requests exactly as WeCom sends them (for webhook tests)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings

from scrm.wecom.crypto import Keys, encrypt_event, event_xml


def app_keys() -> Keys:
    return Keys(settings.WECOM_TOKEN, settings.WECOM_AES_KEY, settings.WECOM_CORP_ID)


def contact_event(change_type: str = "add_external_contact", **fields: str) -> dict:
    return {
        "ToUserName": settings.WECOM_CORP_ID,
        "FromUserName": "sys",
        "CreateTime": str(int(time.time())),
        "MsgType": "event",
        "Event": "change_external_contact",
        "ChangeType": change_type,
        "UserID": "lina",
        "ExternalUserID": "wmCustomer0001",
        **fields,
    }


def signed_post(
    fields: dict,
    *,
    keys: Keys | None = None,
    timestamp: str | None = None,
    nonce: str | None = None,
):
    """(path with query, body) for one encrypted event."""
    query, body = encrypt_event(
        keys or app_keys(), event_xml(fields), timestamp=timestamp, nonce=nonce
    )
    return f"/wecom/callback/?{urlencode(query)}", body
