"""A customer manager works through today's tasks in a real browser (D10, D11)."""

import pytest

from scrm.workspace.models import ManagerTask
from scrm.workspace.services import task_ensure
from tests.browser import login
from tests.factories import CustomerFactory


@pytest.mark.browser
def test_a_manager_signs_in_does_a_task_finishes_another_and_it_persists(
    live_server,
    page,
    cast,
    approved,
    wecom_sandbox,
):
    from django.utils import timezone

    wecom_sandbox.seed_staff("lina")
    wecom_sandbox.control(
        "customers",
        customers=[{"external_userid": "wmZM", "name": "赵敏", "follow": [{"userid": "lina"}]}],
    )
    zhao = CustomerFactory(external_userid="wmZM", name="赵敏")
    today = timezone.localdate()
    act_task, _ = task_ensure(
        staff=cast.staff_a, kind=ManagerTask.Kind.NEW_FRIEND, title="新好友跟进：赵敏",
        dedupe_key="a", due_date=today, customer=zhao, suggestion=approved,
    )  # fmt: skip
    done_task, _ = task_ensure(
        staff=cast.staff_a, kind=ManagerTask.Kind.NEW_FRIEND, title="新好友跟进：周芷若",
        dedupe_key="b", due_date=today, customer=CustomerFactory(name="周芷若"),
    )  # fmt: skip

    login(page, live_server.url, "manager_a")
    page.wait_for_load_state()
    assert page.url.endswith("/workspace/"), (page.url, page.locator("main").inner_text())
    assert page.get_by_test_id("open-count").inner_text() == "2"
    assert page.locator("html").get_attribute("lang") == "zh-hans"

    page.locator(f"li[data-task='{act_task.pk}'] button.do").click()
    page.wait_for_selector("text=消息已推送到企业微信")
    assert page.locator(f"li[data-task='{act_task.pk}']").inner_text().count("待确认") == 1

    page.locator(f"li[data-task='{done_task.pk}'] button.done").click()
    page.wait_for_selector("text=已完成")
    assert page.get_by_test_id("open-count").inner_text() == "1"

    page.reload()
    assert page.get_by_test_id("open-count").inner_text() == "1"
    act_task.refresh_from_db()
    done_task.refresh_from_db()
    assert act_task.acted_at is not None and act_task.action_msgid
    assert done_task.status == ManagerTask.Status.DONE
    with wecom_sandbox.sandbox.lock:
        assert act_task.action_msgid in wecom_sandbox.sandbox.state.msgs
