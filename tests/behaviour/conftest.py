from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_open_windows():
    """The open dedupe windows live in Redis: each test starts without them."""
    cache.clear()
    yield


def approved_content(cast, *, title="基金周报", text="本周基金市场回顾。\n第二段。", url=None):
    from scrm.content import services as content_services

    attachments = []
    if url:
        attachments = [
            {"msgtype": "link", "link": {"title": "本周精选基金", "url": url, "desc": "点击查看"}}
        ]
    content = content_services.content_create(
        actor=cast.ops, title=title, text=text, attachments=attachments
    )
    content_services.content_submit(actor=cast.ops, content_id=content.pk)
    content_services.content_approve(actor=cast.compliance, content_id=content.pk)
    content.refresh_from_db()
    return content
