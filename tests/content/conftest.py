"""Fixtures of the content-library tests: ready-made pieces of content."""

from __future__ import annotations

import pytest


@pytest.fixture
def welcome_text() -> str:
    return "{客户名称}您好，我是您的客户经理{客户经理}，本周三美食五折，欢迎到店。"


@pytest.fixture
def submitted_content(cast, welcome_text):
    """A welcome message ops wrote and submitted; it waits for compliance."""
    from scrm.content import services

    content = services.content_create(actor=cast.ops, title="周三美食福利", text=welcome_text)
    services.content_submit(actor=cast.ops, content_id=content.pk)
    content.refresh_from_db()
    return content


@pytest.fixture
def approved_content(cast, submitted_content):
    from scrm.content import services

    services.content_approve(
        actor=cast.compliance, content_id=submitted_content.pk, comment="符合要求"
    )
    submitted_content.refresh_from_db()
    return submitted_content
