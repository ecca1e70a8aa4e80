"""The H5 pages in headless Chromium on a phone: a customer claims by their personal
link and sees the coupon with its QR code; the store staff scan it (it opens their
redeem page with the code filled in) and redeem it (D7). The strict CSP holds."""

from __future__ import annotations

import pytest

from campaigns.links import claim_url, redeem_url
from campaigns.models import Coupon, MerchantStaff
from tests.browser import login
from tests.campaigns.factories import CouponTemplateFactory, MerchantFactory, StoreFactory
from tests.factories import CustomerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# A camera and a QR reader for the page's scanner: a canvas stream, and a detector
# that reads the coupon's QR text from it.
_FAKE_CAMERA = """
window.BarcodeDetector = class {
  constructor() {}
  detect() { return Promise.resolve([{ rawValue: "QR_TEXT" }]); }
};
navigator.mediaDevices.getUserMedia = () => {
  const canvas = document.createElement("canvas");
  canvas.getContext("2d").fillRect(0, 0, 10, 10);
  return Promise.resolve(canvas.captureStream());
};
"""


def _watch_csp(page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return violations


def test_claim_see_the_qr_then_the_store_scans_and_redeems_it(
    live_server, browser, browser_context, page, settings
):
    settings.SCRM_PUBLIC_URL = live_server.url
    template = CouponTemplateFactory(title="老街火锅满100减20")
    customer = CustomerFactory()
    merchant = MerchantFactory(name="老街火锅")
    store = StoreFactory(merchant=merchant, code="FT01", name="福田店")
    MerchantStaff.objects.create(
        user=UserFactory(username="cashier"), merchant=merchant, store=store
    )
    violations = _watch_csp(page)

    page.goto(claim_url(customer_id=customer.pk, campaign_id=template.campaign_id))
    assert page.inner_text("#campaign-title") == "周三美食五折"
    assert "满 100.00 元减 20.00 元" in page.inner_text(".coupon-option")
    page.click("button.claim")
    page.wait_for_selector("#wallet section.coupon")
    card = page.locator("section.coupon").first
    code = card.get_attribute("data-code")
    assert Coupon.objects.get(customer=customer).code == code
    assert "已领取" in card.inner_text()
    assert page.evaluate("document.querySelector('img.qr').naturalWidth") > 100
    assert card.locator("img.qr").get_attribute("src").startswith("data:image/png;base64,")

    staff = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    try:
        staff_page = staff.new_page()
        staff_violations = _watch_csp(staff_page)
        login(staff_page, live_server.url, "cashier")
        staff_page.goto(redeem_url(code=code))  # what the QR code holds
        assert staff_page.input_value("#code").replace("-", "") == code
        # Where the browser can read QR codes, the page scans them itself.
        scanner = staff.new_page()
        scanner.add_init_script(_FAKE_CAMERA.replace("QR_TEXT", redeem_url(code=code)))
        scanner.goto(f"{live_server.url}/m/redeem/")
        scanner.click("#scan")
        scanner.wait_for_function("document.getElementById('code').value !== ''")
        assert scanner.input_value("#code") == code
        scanner.close()
        staff_page.fill("#amount", "158")
        staff_page.click("#confirm")
        staff_page.wait_for_selector("#result")
        result = staff_page.inner_text("#result")
        assert "核销成功：老街火锅满100减20" in result and "优惠 20.00 元" in result
        assert "顾客应付 138.00 元" in result
        # Tapping again with the same code is refused, never a second redemption.
        staff_page.fill("#code", code)
        staff_page.fill("#amount", "158")
        staff_page.click("#confirm")
        staff_page.wait_for_selector("#error")
        assert staff_page.inner_text("#error") == "优惠券已核销"
        assert not staff_violations
    finally:
        staff.close()

    page.reload()
    card = page.locator("section.coupon").first
    assert card.get_attribute("data-status") == "redeemed"
    assert "已核销" in card.inner_text() and card.locator("img.qr").count() == 0
    assert not violations


def test_a_refused_claim_shows_its_chinese_message(live_server, page, settings):
    settings.SCRM_PUBLIC_URL = live_server.url
    template = CouponTemplateFactory(total_stock=1)
    first, second = CustomerFactory(), CustomerFactory()
    page.goto(claim_url(customer_id=first.pk, campaign_id=template.campaign_id))
    page.click("button.claim")
    page.wait_for_selector("#wallet")
    page.goto(claim_url(customer_id=second.pk, campaign_id=template.campaign_id))
    assert page.locator("button.claim").is_disabled()
    assert page.inner_text("button.claim") == "已领完"
    page.goto(f"{live_server.url}/h5/claim/forged-link/")
    assert page.inner_text("#error") == "链接无效"
