"""The inviter's invite page in headless Chromium on a phone (D8): the manager's QR code
(WeCom's contact way with the inviter's own state), the tiers and the progress; a friend
scans the code in WeCom and the page shows the first tier paid. The strict CSP holds."""

from __future__ import annotations

import pytest
import segno

from campaigns.referral.links import invite_url
from campaigns.referral.models import InviteCode
from tests.referral.conftest import scan, scan_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# WeCom's QR images come from its CDN; the test serves one in its place.
_QR_PNG = segno.make("https://work.weixin.qq.com/ca/sandbox").png_data_uri(scale=5)


def _serve_qr_images(page) -> None:
    import base64

    body = base64.b64decode(_QR_PNG.split(",", 1)[1])
    page.route(
        "https://wework.qpic.cn/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=body),
    )


def test_the_invite_page_shows_the_managers_qr_and_the_progress(
    live_server, page, settings, corp, program, wecom_calls_outside_transactions
):
    settings.SCRM_PUBLIC_URL = live_server.url
    calls = wecom_calls_outside_transactions("contact_way_add")
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    _serve_qr_images(page)
    root, _f, _e = scan(corp, userid="lina", name="王老客")

    page.goto(invite_url(customer_id=root.pk, campaign_id=program.campaign_id))
    assert page.inner_text("#campaign-title") == "邀请好友办卡"
    code = InviteCode.objects.get(program=program, inviter=root)
    qr = page.locator("#invite-qr")
    assert qr.get_attribute("src") == code.qr_code
    page.wait_for_function("document.getElementById('invite-qr').naturalWidth > 100")
    assert "李娜" in page.inner_text("#manager")
    tiers = page.locator("li.tier")
    assert tiers.count() == 3
    assert "邀请 1 位：邀请有礼满100减20" in tiers.nth(0).inner_text()
    assert "邀请 3 位：8.88 元红包" in tiers.nth(1).inner_text()
    assert "邀请 10 位：定制保温杯" in tiers.nth(2).inner_text()
    assert "已成功邀请 0 位好友" in page.inner_text("#progress")

    scan_code(corp, code, "新朋友")  # the friend scans the QR in WeChat
    page.reload()
    assert "已成功邀请 1 位好友" in page.inner_text("#progress")
    first = page.locator("li.tier[data-threshold='1']")
    assert first.get_attribute("data-status") == "granted" and "已发放" in first.inner_text()
    assert page.locator("li.tier[data-threshold='3']").get_attribute("data-status") == ""
    assert InviteCode.objects.filter(program=program).count() == 1  # the same code again
    assert calls == ["contact_way_add"]  # made once, with no transaction open

    page.goto(f"{live_server.url}/h5/invite/forged-link/")
    assert page.inner_text("#error") == "链接无效"
    assert not violations


def test_a_customer_without_a_manager_is_told_to_add_one_first(
    live_server, page, settings, corp, program
):
    from tests.factories import CustomerFactory

    settings.SCRM_PUBLIC_URL = live_server.url
    stranger = CustomerFactory()
    page.goto(invite_url(customer_id=stranger.pk, campaign_id=program.campaign_id))
    assert page.locator("#error").get_attribute("data-code") == "no_manager"
    assert "请先添加您的客户经理" in page.inner_text("#error")
    assert page.locator("#invite-qr").count() == 0
