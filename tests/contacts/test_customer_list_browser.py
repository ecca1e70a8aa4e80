"""A customer manager opens 「我的客户」 on a phone (inside WeCom) in a real browser."""

from __future__ import annotations

import pytest
from django.utils import timezone

from contacts.models import BankRecord, Customer
from tests.browser import login
from tests.factories import CustomerFactory, FollowRelationFactory, TagFactory

SCREENSHOT = "/tmp/customers.png"
DESKTOP_SCREENSHOT = "/tmp/customers-desktop.png"


@pytest.mark.browser
def test_a_manager_reads_their_customers_as_cards_on_a_phone(live_server, browser, page, cast):
    vip = TagFactory(name="理财客户")
    for i in range(27):
        customer = CustomerFactory(name=f"客户{i:02d}")
        FollowRelationFactory(
            customer=customer,
            staff=cast.staff_a,
            remark_mobiles=f"1390000{i:04d}" if i % 3 == 0 else "",
        )
        if i % 2 == 0:
            record = BankRecord.objects.create(customer_no=f"C{i:04d}", phone=f"1381234{i:04d}")
            Customer.objects.filter(pk=customer.pk).update(
                bank_record=record,
                verified_at=timezone.now(),
                verify_method=Customer.VerifyMethod.REMARK_MOBILE,
                ring=Customer.Ring.INNER,
            )
            customer.tags.create(tag=vip, source="manual")
    theirs = CustomerFactory(name="别人的客户")
    FollowRelationFactory(customer=theirs, staff=cast.staff_b)

    login(page, live_server.url, "manager_a")
    page.goto(f"{live_server.url}/customers/")
    assert page.get_by_test_id("customer-count").inner_text() == "27"
    rows = page.locator("#customers tbody tr")
    assert rows.count() == 25
    assert page.locator("#customers thead").is_hidden()  # cards, not a table, on a phone
    first = rows.first
    assert first.locator("td.name a").is_visible()
    phones = rows.locator("td.pii").all_inner_texts()
    assert all(p == "—" or "****" in p for p in phones), phones
    assert "—" in phones and any("****" in p for p in phones)
    assert page.locator("td.verified .badge.ok").count() > 0
    assert "别人的客户" not in page.locator("main").inner_text()
    # Nothing sticks out sideways on a 390px screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=SCREENSHOT, full_page=False)

    # On a desktop screen the same page is a table.
    desktop = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    try:
        wide = desktop.new_page()
        login(wide, live_server.url, "manager_a")
        wide.goto(f"{live_server.url}/customers/")
        assert wide.locator("#customers thead").is_visible()
        wide.screenshot(path=DESKTOP_SCREENSHOT)
    finally:
        desktop.close()

    page.fill("input[name=q]", "客户26")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#customers tbody tr").count() == 1
    assert page.locator("#customers tbody tr td.pii").inner_text() == "138****0026"

    page.fill("input[name=q]", "客户")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    page.click("nav.pager a[rel=next]")
    page.wait_for_load_state()
    assert "page=2" in page.url and "q=" in page.url
    assert page.get_by_test_id("page-of").inner_text() == "第 2 / 2 页"
    assert page.locator("#customers tbody tr").count() == 2
    assert page.locator("input[name=q]").input_value() == "客户"
    page.screenshot(path="/tmp/customers-page2.png")
