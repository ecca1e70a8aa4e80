"""The customer manager's daily task list: one click to do, finish or skip (D10–D12)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scrm.core.errors import DomainError
from scrm.workspace import services as worklist
from scrm.workspace.models import ManagerTask, TaskRule
from scrm.workspace.services import task_rules_run
from tests.factories import CustomerFactory, FollowRelationFactory


def _task(staff, customer=None, suggestion=None, days_ago=0, key="k1"):
    task, _ = worklist.task_ensure(
        staff=staff,
        kind=ManagerTask.Kind.NEW_FRIEND,
        title=f"新好友跟进：{customer.name if customer else ''}",
        dedupe_key=key,
        due_date=timezone.localdate() - timedelta(days=days_ago),
        customer=customer,
        suggestion=suggestion,
    )
    return task


@pytest.mark.django_db
def test_a_manager_sees_today_and_overdue_tasks_on_the_workspace(client, cast):
    customer = CustomerFactory(name="赵敏")
    _task(cast.staff_a, customer, key="today")
    _task(cast.staff_a, CustomerFactory(name="周芷若"), days_ago=2, key="late")
    _task(cast.staff_b, CustomerFactory(name="别人的客户"), key="other")
    client.force_login(cast.manager_a)
    html = client.get("/workspace/").content.decode()
    assert "新好友跟进：赵敏" in html and "新好友跟进：周芷若" in html
    assert "别人的客户" not in html
    assert "逾期" in html


@pytest.mark.django_db
def test_managers_land_on_their_workspace_after_login(client, cast):
    response = client.post(
        "/accounts/login/", {"username": "manager_a", "password": "Secret-pass-1"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/workspace/"


@pytest.mark.django_db
def test_done_and_skip_with_a_reason_persist(client, cast):
    done = _task(cast.staff_a, CustomerFactory(), key="a")
    skipped = _task(cast.staff_a, CustomerFactory(), key="b")
    client.force_login(cast.manager_a)
    client.post(f"/workspace/tasks/{done.pk}/done/")
    client.post(
        f"/workspace/tasks/{skipped.pk}/skip/", {"reason": "customer_busy", "note": "出差中"}
    )
    done.refresh_from_db()
    skipped.refresh_from_db()
    assert done.status == ManagerTask.Status.DONE and done.closed_at
    assert skipped.status == ManagerTask.Status.SKIPPED
    assert skipped.skip_reason == "客户暂不方便：出差中"


@pytest.mark.django_db
def test_skipping_with_other_needs_a_note(cast):
    task = _task(cast.staff_a, CustomerFactory())
    with pytest.raises(DomainError) as err:
        worklist.task_skip(user=cast.manager_a, task_id=task.pk, reason="other")
    assert err.value.code == "note_required"


@pytest.mark.django_db
def test_a_manager_cannot_touch_another_managers_task(client, cast):
    task = _task(cast.staff_b, CustomerFactory())
    client.force_login(cast.manager_a)
    response = client.post(f"/api/workspace/tasks/{task.pk}/done/")
    assert response.status_code == 404
    assert response.json()["code"] == "task_not_found"
    task.refresh_from_db()
    assert task.status == ManagerTask.Status.OPEN


@pytest.mark.django_db
def test_do_it_puts_the_approved_suggestion_into_the_managers_wecom_client(
    client, cast, approved, wecom_sandbox
):
    wecom_sandbox.seed_staff("lina")
    customer = CustomerFactory(external_userid="wmZHAOMIN", name="赵敏")
    wecom_sandbox.control(
        "customers",
        customers=[
            {"external_userid": "wmZHAOMIN", "name": "赵敏", "follow": [{"userid": "lina"}]}
        ],
    )
    task = _task(cast.staff_a, customer, suggestion=approved)
    client.force_login(cast.manager_a)
    response = client.post(f"/api/workspace/tasks/{task.pk}/act/")
    assert response.status_code == 200, response.json()
    task.refresh_from_db()
    assert task.acted_at and task.action_msgid
    with wecom_sandbox.sandbox.lock:
        msg = wecom_sandbox.sandbox.state.msgs[task.action_msgid]
    assert msg["chat_type"] == "single"
    assert msg["targets"] == {"lina": ["wmZHAOMIN"]}
    assert "李娜为您服务" in msg["text"]["content"]
    again = client.post(f"/api/workspace/tasks/{task.pk}/act/")
    assert again.status_code == 400 and again.json()["code"] == "already_acted"


@pytest.mark.django_db
def test_do_it_respects_a_marketing_opt_out(cast, approved):
    task = _task(cast.staff_a, CustomerFactory(marketing_opt_out=True), suggestion=approved)
    with pytest.raises(DomainError) as err:
        worklist.task_act(user=cast.manager_a, task_id=task.pk)
    assert err.value.code == "opted_out"


@pytest.mark.django_db
def test_the_new_friend_rule_creates_one_task_per_new_relation_however_often_it_runs(
    cast, approved
):
    TaskRule.objects.create(kind=TaskRule.Kind.NEW_FRIEND, days=1, suggestion=approved)
    FollowRelationFactory(staff=cast.staff_a, customer=CustomerFactory(name="新客"))
    FollowRelationFactory(
        staff=cast.staff_a, added_at=timezone.now() - timedelta(days=5)
    )  # too old
    today = timezone.localdate()
    assert task_rules_run(today=today) == {"new_friend": 1}
    assert task_rules_run(today=today) == {"new_friend": 0}
    task = ManagerTask.objects.get()
    assert task.staff == cast.staff_a and task.suggestion == approved


@pytest.mark.django_db
def test_a_branch_manager_sees_the_branch_leaderboard(client, cast):
    worklist.task_done(user=cast.manager_a, task_id=_task(cast.staff_a, key="x").pk)
    _task(cast.staff_a, key="y")
    client.force_login(cast.branch_manager)
    html = client.get("/workspace/").content.decode()
    assert "本周完成率排行" in html
    assert "李娜" in html and "50%" in html


@pytest.mark.django_db
def test_the_workspace_api_lists_open_tasks_with_overdue_flags(client, cast):
    _task(cast.staff_a, CustomerFactory(), days_ago=1)
    client.force_login(cast.manager_a)
    body = client.get("/api/workspace/tasks/").json()
    assert body["overdue"] == 1
    assert body["open"][0]["overdue"] is True
    assert body["open"][0]["kind_label"] == "新好友跟进"


def _bank_customer(staff, *, no, birthday=None, maturity=None, product=""):
    from contacts.models import BankRecord

    record = BankRecord.objects.create(
        customer_no=no, name="客户", birthday=birthday, product_name=product,
        product_maturity=maturity,
    )  # fmt: skip
    customer = CustomerFactory(name=f"客户{no}", bank_record=record, verified_at=timezone.now())
    FollowRelationFactory(staff=staff, customer=customer)
    return customer


@pytest.mark.django_db
def test_the_birthday_rule_greets_each_customer_once_on_their_day(cast, approved):
    today = timezone.localdate()
    TaskRule.objects.create(kind=TaskRule.Kind.BIRTHDAY, days=0, suggestion=approved)
    born = today.replace(year=1985) if not (today.month == 2 and today.day == 29) else today
    hers = _bank_customer(cast.staff_a, no="B1", birthday=born)
    _bank_customer(cast.staff_a, no="B2", birthday=born + timedelta(days=3))
    assert task_rules_run(today=today) == {"birthday": 1}
    assert task_rules_run(today=today) == {"birthday": 0}
    task = ManagerTask.objects.get(kind=ManagerTask.Kind.BIRTHDAY)
    assert task.customer == hers and task.staff == cast.staff_a


@pytest.mark.django_db
def test_the_maturity_rule_reminds_managers_of_products_maturing_soon(cast):
    today = timezone.localdate()
    TaskRule.objects.create(kind=TaskRule.Kind.MATURITY, days=7)
    _bank_customer(cast.staff_b, no="M1", maturity=today + timedelta(days=5), product="稳健理财A")
    _bank_customer(cast.staff_b, no="M2", maturity=today + timedelta(days=30), product="B")
    optout = _bank_customer(cast.staff_b, no="M3", maturity=today + timedelta(days=2))
    optout.marketing_opt_out = True
    optout.save()
    assert task_rules_run(today=today) == {"maturity": 1}
    task = ManagerTask.objects.get()
    assert task.staff == cast.staff_b
    assert "稳健理财A" in task.detail
