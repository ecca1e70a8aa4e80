"""Fixtures of the content-library tests: a ready-made piece of content and a
headless Chromium page for the browser tests."""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def welcome_text() -> str:
    return "{客户名称}您好，我是您的客户经理{客户经理}，本周三美食五折，欢迎到店。"


@pytest.fixture
def submitted_content(cast, welcome_text):
    """A welcome message ops wrote and submitted; it waits for compliance."""
    from campaigns import services

    content = services.content_create(actor=cast.ops, title="周三美食福利", text=welcome_text)
    services.content_submit(actor=cast.ops, content_id=content.pk)
    content.refresh_from_db()
    return content


@pytest.fixture
def approved_content(cast, submitted_content):
    from campaigns import services

    services.content_approve(
        actor=cast.compliance, content_id=submitted_content.pk, comment="符合要求"
    )
    submitted_content.refresh_from_db()
    return submitted_content


@pytest.fixture
def page(monkeypatch):
    """A Playwright page in Debian's headless Chromium (never a downloaded browser)."""
    # Playwright's sync API runs an event loop in this thread; the test's own ORM
    # calls are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN"}
        )
        context.set_default_timeout(15_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()
