"""The H5 join page in headless Chromium: location shared, or refused and picked (D3)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_customer_sharing_a_chengdu_location_sees_the_chengdu_pool(
    live_server, local_pools, browser_context, page
):
    browser_context.grant_permissions(["geolocation"], origin=live_server.url)
    browser_context.set_geolocation({"latitude": 30.6586, "longitude": 104.0648})
    page.goto(f"{live_server.url}/h5/join/")
    page.wait_for_selector("#pool-name")
    assert page.inner_text("#pool-name") == "成都福利群"
    assert page.get_attribute("#group-qr", "src") == "https://qr.example/cd.png"
    assert "lat=30.66" in page.url and "lng=104.06" in page.url


def test_a_customer_refusing_location_picks_guangdong_shenzhen_and_sees_its_pool(
    live_server, local_pools, browser_context, page
):
    browser_context.clear_permissions()  # geolocation is denied
    page.goto(f"{live_server.url}/h5/join/")
    page.wait_for_selector("#picker", state="visible")
    page.select_option("#province", label="广东省")
    assert "深圳市" in page.inner_text("#city")
    assert "成都市" not in page.inner_text("#city")
    page.select_option("#city", label="深圳市")
    page.click("#pick-submit")
    page.wait_for_selector("#pool-name")
    assert page.inner_text("#pool-name") == "深圳福利群"
