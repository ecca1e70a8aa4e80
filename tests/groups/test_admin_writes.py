"""The admin writes through services: a group's pool, an SOP plan's status, a customer's tag."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from groups.models import CustomerGroup
from groups.sop.models import SopPlan
from tagging.models import CustomerTag
from tests.factories import (
    CustomerFactory,
    CustomerGroupFactory,
    GroupPoolFactory,
    RegionFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


def test_ops_put_a_group_into_a_pool_and_the_wecom_fields_stay(client, cast):
    pool = GroupPoolFactory(region=RegionFactory(code="440304", name="福田区"))
    group = CustomerGroupFactory(name="福田美食群", owner=cast.staff_a)
    client.force_login(cast.ops_admin)
    url = f"/admin/groups/customergroup/{group.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "pool": pool.pk,
            "region": "",
            "name": "改掉的群名",
            "members-TOTAL_FORMS": "0",
            "members-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]
    group.refresh_from_db()
    assert (group.pool_id, group.region_id, group.name) == (pool.pk, pool.region_id, "福田美食群")
    assert client.get("/admin/groups/customergroup/add/").status_code == 403


def test_a_plan_resumed_in_its_form_starts_from_now(client, cast):
    plan = SopPlan.objects.create(
        name="每周福利",
        start_date=dt.date(2026, 1, 1),
        status=SopPlan.Status.PAUSED,
        paused_at=timezone.now() - dt.timedelta(days=3),
        active_since=timezone.now() - dt.timedelta(days=30),
    )
    client.force_login(cast.ops)
    before = timezone.now()
    response = client.post(
        f"/admin/sop/sopplan/{plan.pk}/change/",
        {
            "name": "每周福利",
            "status": SopPlan.Status.ACTIVE,
            "holiday_policy": plan.holiday_policy,
            "start_date": "2026-01-01",
            "end_date": "",
            "slots-TOTAL_FORMS": "0",
            "slots-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:800]
    plan.refresh_from_db()
    assert plan.status == SopPlan.Status.ACTIVE
    assert plan.paused_at is None
    assert plan.active_since >= before  # missed slots are not sent late


def test_a_plan_whose_end_is_before_its_start_is_refused_with_a_field_error(client, cast):
    client.force_login(cast.ops)
    response = client.post(
        "/admin/sop/sopplan/add/",
        {
            "name": "反了",
            "status": SopPlan.Status.ACTIVE,
            "holiday_policy": SopPlan.HolidayPolicy.values[0],
            "start_date": "2026-03-01",
            "end_date": "2026-02-01",
            "slots-TOTAL_FORMS": "0",
            "slots-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "结束日期不能早于开始日期" in response.content.decode()
    assert not SopPlan.objects.filter(name="反了").exists()


def test_a_tag_added_in_the_admin_goes_through_the_service_and_a_deleted_tag_is_refused(
    client, cast, django_capture_on_commit_callbacks
):
    customer = CustomerFactory()
    tag = TagFactory(name="美食")
    gone = TagFactory(name="旧标签", is_deleted=True)
    client.force_login(cast.ops)
    with django_capture_on_commit_callbacks() as pushes:
        response = client.post(
            "/admin/tagging/customertag/add/",
            {"customer": customer.pk, "tag": tag.pk, "source": CustomerTag.Source.MANUAL},
        )
    assert response.status_code == 302
    assert CustomerTag.objects.filter(customer=customer, tag=tag).count() == 1
    assert pushes  # WeCom gets the tag after commit
    response = client.post(
        "/admin/tagging/customertag/add/",
        {"customer": customer.pk, "tag": gone.pk, "source": CustomerTag.Source.MANUAL},
    )
    assert response.status_code == 200
    assert "标签已删除" in response.content.decode()
    assert not CustomerTag.objects.filter(tag=gone).exists()
    assert CustomerGroup.objects.count() == 0
