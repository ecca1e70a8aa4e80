"""The H5 draw page in headless Chromium on a phone: a customer opens their personal
link, draws, sees what they won, finds the coupon with its QR code in "my coupons";
the day's limit and an exhausted prize table are told in Chinese (D7). The strict CSP
holds."""

from __future__ import annotations

import pytest

from campaigns.links import claim_token_make
from campaigns.lottery.models import Draw
from campaigns.models import Coupon
from tests.factories import CustomerFactory
from tests.lottery.factories import LotteryFactory, coupon_prize

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _draw_url(base: str, customer, campaign) -> str:
    token = claim_token_make(customer_id=customer.pk, campaign_id=campaign.pk)
    return f"{base}/h5/lottery/{token}/"


def _watch_csp(page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return violations


def test_draw_win_a_coupon_and_find_it_with_its_qr_code(live_server, page, settings):
    settings.SCRM_PUBLIC_URL = live_server.url
    campaign = LotteryFactory(draws_per_day=1, draws_per_customer=3).campaign
    coupon_prize(campaign, stock=1, weight=1)
    customer = CustomerFactory()
    violations = _watch_csp(page)

    page.goto(_draw_url(live_server.url, customer, campaign))
    assert page.inner_text("#campaign-title") == "周五幸运大抽奖"
    assert "火锅满100减20券" in page.inner_text(".prize-list")
    assert "今日还可抽 1 次" in page.inner_text("#draws-left")
    page.click("#draw")
    page.wait_for_selector("#result")
    assert page.inner_text("#result h2") == "恭喜中奖"
    assert "优惠券已放入“我的优惠券”" in page.inner_text("#result")
    # The day's draw is used: the button says so and cannot be pressed.
    assert page.locator("#draw").is_disabled()
    assert page.inner_text("#draw") == "抽奖次数已用完"
    assert "火锅满100减20券" in page.inner_text("#my-draws")
    page.click("#result-wallet")
    page.wait_for_selector("#wallet section.coupon")
    code = page.locator("section.coupon").first.get_attribute("data-code")
    assert Coupon.objects.get(customer=customer).code == code
    assert Draw.objects.get(customer=customer).coupon.code == code
    assert page.evaluate("document.querySelector('img.qr').naturalWidth") > 100
    assert not violations


def test_when_the_prizes_are_gone_the_page_says_so(live_server, page, settings):
    settings.SCRM_PUBLIC_URL = live_server.url
    campaign = LotteryFactory(draws_per_day=None, draws_per_customer=None).campaign
    coupon_prize(campaign, stock=1, weight=1)
    first, second = CustomerFactory(), CustomerFactory()
    page.goto(_draw_url(live_server.url, first, campaign))
    page.click("#draw")
    page.wait_for_selector("#result")
    page.goto(_draw_url(live_server.url, second, campaign))
    page.click("#draw")
    page.wait_for_selector("#error")
    assert page.inner_text("#error") == "奖品已全部抽完，感谢您的参与"
    assert page.locator("#error").get_attribute("data-code") == "out_of_stock"
    page.goto(f"{live_server.url}/h5/lottery/forged-link/")
    assert page.inner_text("#error") == "链接无效"
