"""The H5 survey in headless Chromium on a phone: a customer opens their personal link,
submits too early and is told in Chinese what is missing, answers, sees the thanks; the
link opened again says it was submitted. The strict CSP holds (no inline style or
script) and the page's own stylesheet applies."""

from __future__ import annotations

import pytest

from tagging.models import CustomerTag
from tagging.surveys.links import survey_path
from tagging.surveys.models import Response

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_customer_answers_the_survey_on_a_phone(live_server, page, world):
    w = world
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    url = live_server.url + survey_path(survey_id=w.survey.pk, customer_id=w.customer.pk)
    page.goto(url)
    assert page.inner_text("#survey-title") == "客户兴趣调查"
    assert page.locator("fieldset.question").count() == 4
    # The page's stylesheet is applied: the submit button spans the phone's width.
    width = page.evaluate("document.querySelector('#submit').getBoundingClientRect().width")
    assert width > 300

    page.click("#submit")
    page.wait_for_selector("#form-error")
    assert page.inner_text("#form-error") == "请检查标红的题目"
    errors = page.locator(f"#q{w.channel.pk} .field-error")
    assert errors.inner_text() == "此题为必答题"
    assert page.locator("fieldset.has-error").count() == 3  # the optional note is not one
    assert not Response.objects.exists()

    page.check(f"#q{w.channel.pk} input[value='{w.app.pk}']")
    page.check(f"#q{w.likes.pk} input[value='{w.funds.pk}']")
    page.check(f"#q{w.likes.pk} input[value='{w.food.pk}']")
    page.check(f"#q{w.rating.pk} input[value='5']")
    page.fill(f"#q{w.note.pk} textarea", "周末有没有亲子活动？")
    page.click("#submit")
    page.wait_for_selector("#message[data-code='done']")
    assert "提交成功" in page.inner_text("#message")
    assert "感谢您的参与" in page.inner_text("#message")

    response = Response.objects.get(customer=w.customer)
    assert sorted(a.option.label for a in response.answers.filter(option__isnull=False)) == [
        "基金理财",
        "手机银行",
        "美食",
    ]
    assert set(
        CustomerTag.objects.filter(customer=w.customer, source="survey").values_list(
            "tag__name", flat=True
        )
    ) == {"来自手机银行", "关注基金"}

    page.goto(url)
    assert page.locator("#message").get_attribute("data-code") == "already"
    assert "已提交" in page.inner_text("#message")
    assert not violations
