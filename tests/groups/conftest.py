"""Fixtures of the groups tests: the shipped regions, local pools, and a headless
Chromium (Debian's ``chromium`` driven by Playwright) for the H5 pages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SCRM_CHROMIUM", "/usr/bin/chromium")
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
def regions(db):
    """Every province and prefecture-level city, as shipped (groups/data/regions.csv)."""
    from django.core.management import call_command

    from groups.models import Region

    call_command("load_regions", stdout=open(os.devnull, "w"))  # noqa: SIM115
    return {r.code: r for r in Region.objects.all()}


@pytest.fixture
def local_pools(regions):
    """Benefit-group pools of Shenzhen, Chengdu and Harbin, plus the national default."""
    from tests.factories import GroupPoolFactory

    return {
        "shenzhen": GroupPoolFactory(
            name="深圳福利群", region=regions["440300"], qr_code="https://qr.example/sz.png"
        ),
        "chengdu": GroupPoolFactory(
            name="成都福利群", region=regions["510100"], qr_code="https://qr.example/cd.png"
        ),
        "harbin": GroupPoolFactory(
            name="哈尔滨福利群", region=regions["230100"], qr_code="https://qr.example/hrb.png"
        ),
        "default": GroupPoolFactory(
            name="全国福利群", region=None, is_default=True, qr_code="https://qr.example/all.png"
        ),
    }


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium per test session (never downloaded: Debian's package)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the ORM calls the
    # tests make between page actions are still plain synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield instance
            instance.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_context(browser):
    """A fresh phone-sized context in Simplified Chinese; tests grant permissions on it."""
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    page = browser_context.new_page()
    page.set_default_timeout(10_000)
    yield page
    page.close()
