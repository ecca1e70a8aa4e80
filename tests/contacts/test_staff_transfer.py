"""Staff leave and hand their customers over; WeCom's answers are tracked (D1, D11).

WeCom lets a customer be transferred at most twice in 90 days (40128) and a
serving member's customer may refuse; each outcome is a CustomerTransfer row.
"""

from __future__ import annotations

import pytest

from contacts.models import CustomerTransfer, FollowRelation, Staff
from contacts.staff import customers_hand_over, staff_directory_sync, transfer_results_sync
from tests.factories import CustomerFactory, FollowRelationFactory
from tests.wecom.events import deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def corp(wecom_sandbox, cast):
    wecom_sandbox.control(
        "staff",
        users=[
            {"userid": "lina", "name": "李娜"},
            {"userid": "chenjing", "name": "陈静"},
            {"userid": "wangfang", "name": "王芳"},
        ],
    )
    ids = ["wmHAND01", "wmHAND02", "wmHAND03"]
    wecom_sandbox.control(
        "customers",
        customers=[{"external_userid": e, "follow": [{"userid": "lina"}]} for e in ids],
    )
    for ext in ids:
        FollowRelationFactory(customer=CustomerFactory(external_userid=ext), staff=cast.staff_a)
    return wecom_sandbox


def test_a_departed_manager_s_customers_are_handed_over_from_the_staff_admin(corp, cast, client):
    """Leaving keeps the history; the successor takes over; a customer moved twice in
    90 days is turned down by WeCom (40128) and recorded as failed."""
    # wmHAND03 was already transferred twice in the last 90 days (back and forth).
    from scrm.wecom.adapter import wecom

    for src, dst in (("lina", "wangfang"), ("wangfang", "lina")):
        assert wecom.customers_transfer(
            handover_userid=src, takeover_userid=dst, external_userids=["wmHAND03"], resigned=False
        ) == {"wmHAND03": 0}
        corp.control("transfer_respond", external_userid="wmHAND03")
    corp.control("staff_leave", userid="lina")
    deliver({"Event": "change_contact", "ChangeType": "delete_user", "UserID": "lina"})
    cast.staff_a.refresh_from_db()
    assert cast.staff_a.status == Staff.Status.LEFT

    client.force_login(cast.ops)
    response = client.post(
        "/admin/contacts/staff/",
        {
            "action": "hand_over_customers",
            "_selected_action": [str(cast.staff_a.pk)],
            "successor": str(cast.staff_b.pk),
        },
        follow=True,
    )
    assert "2 位客户等待接替，1 位未被企业微信受理" in response.content.decode()
    by_ext = {t.customer.external_userid: t for t in CustomerTransfer.objects.all()}
    assert by_ext["wmHAND03"].status == CustomerTransfer.Status.FAILED
    assert by_ext["wmHAND03"].errcode == 40128
    assert {by_ext[e].status for e in ("wmHAND01", "wmHAND02")} == {"waiting"}

    corp.control("transfer_respond", external_userid="wmHAND01")
    corp.control("transfer_respond", external_userid="wmHAND02")
    assert transfer_results_sync(from_staff_id=cast.staff_a.pk, to_staff_id=cast.staff_b.pk) == {
        "succeeded": 2
    }
    moved = FollowRelation.objects.get(customer__external_userid="wmHAND01", staff=cast.staff_b)
    assert moved.status == FollowRelation.Status.ACTIVE
    old = FollowRelation.objects.get(customer__external_userid="wmHAND01", staff=cast.staff_a)
    assert old.status == FollowRelation.Status.TRANSFERRED  # history stays with the leaver


def test_a_customer_refusing_a_serving_manager_s_hand_over_is_recorded(corp, cast):
    rows = customers_hand_over(
        from_staff_id=cast.staff_a.pk, to_staff_id=cast.staff_b.pk, customer_ids=None
    )
    assert {r.status for r in rows} == {CustomerTransfer.Status.WAITING}
    corp.control("transfer_respond", external_userid="wmHAND01", outcome="refuse")
    # WeCom's transfer_fail names the member who failed to take the customer over.
    event = deliver(
        {
            "Event": "change_external_contact",
            "ChangeType": "transfer_fail",
            "UserID": "chenjing",
            "ExternalUserID": "wmHAND01",
            "FailReason": "customer_refused",
        }
    )
    assert event.status == "done"
    refused = CustomerTransfer.objects.get(customer__external_userid="wmHAND01")
    assert refused.status == CustomerTransfer.Status.REFUSED and refused.finished_at
    corp.control("transfer_respond", external_userid="wmHAND02", outcome="limit")
    transfer_results_sync(from_staff_id=cast.staff_a.pk, to_staff_id=cast.staff_b.pk)
    limited = CustomerTransfer.objects.get(customer__external_userid="wmHAND02")
    assert limited.status == CustomerTransfer.Status.LIMIT
    # The relation with the serving manager is untouched by a failed hand-over.
    assert (
        FollowRelation.objects.get(customer__external_userid="wmHAND01", staff=cast.staff_a).status
        == FollowRelation.Status.ACTIVE
    )


def test_the_directory_follows_wecom_members_and_departments(corp, cast):
    corp.control(
        "staff",
        users=[{"userid": "zhaolei", "name": "赵磊", "department": [7], "position": "客户经理"}],
    )
    report = staff_directory_sync()
    zhao = Staff.objects.get(userid="zhaolei")
    assert (zhao.name, zhao.position, zhao.branch.wecom_department_id) == ("赵磊", "客户经理", 7)
    assert report.created == 1


def test_a_manager_logs_in_through_wecom_oauth(corp, cast):
    from contacts.staff import staff_login_from_oauth

    code = corp.control("oauth_code", userid="lina")["code"]
    assert staff_login_from_oauth(code=code) == cast.manager_a
