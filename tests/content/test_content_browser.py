"""Ops in a real browser: content with a banned phrase cannot be submitted and
the phrase is shown highlighted in Chinese (D6)."""

import pytest

from scrm.content.models import Content
from scrm.content.services import banned_phrases_seed

# A transactional test's flush (in any earlier test of this worker) empties the table the
# migration seeded; the phrases are put back as the migration does.

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ops_sees_the_highlighted_banned_phrase_when_submitting_in_the_admin(
    live_server, cast, page
):
    banned_phrases_seed()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/content/content/add/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "Secret-pass-1")
    page.click("input[type=submit]")

    page.wait_for_url("**/admin/content/content/add/")
    page.fill("#id_title", "周末理财推荐")
    page.fill("#id_text", "{客户名称}您好，本产品保本保息，欢迎咨询{客户经理}。")
    page.click("input[name=_submit]")

    mark = page.locator("mark.banned-phrase")
    mark.first.wait_for()
    assert mark.first.inner_text() == "保本"
    errors = page.locator(".errorlist").first.inner_text()
    assert "含有金融营销禁用词「保本」（正文第 13 个字）" in errors
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert not Content.objects.exists()
