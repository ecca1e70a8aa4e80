"""A due SOP slot becomes exactly one delivery per group, however often it is ticked (D6)."""

from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from groups.sop import services
from groups.sop.models import SopDelivery, SopOccurrence, SopPlan
from groups.sop.selectors import group_monthly_quota, sop_group_preview
from scrm.core.errors import DomainError
from scrm.core.workdays import SHANGHAI
from tests.factories import CustomerGroupFactory, GroupPoolFactory, StaffFactory

WED_10 = datetime(2026, 11, 11, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def plan_for_pool(approved):
    owners = [StaffFactory() for _ in range(3)]
    pool = GroupPoolFactory()
    groups = [CustomerGroupFactory(pool=pool, owner=owners[i % 3]) for i in range(12)]
    CustomerGroupFactory(pool=pool, status="dismissed")  # never targeted
    plan = SopPlan.objects.create(
        name="福利周历", start_date=date(2026, 11, 1), active_since=WED_10 - timedelta(days=7)
    )
    plan.target_pools.add(pool)
    services.sop_slot_create(plan=plan, content_id=approved.pk, at=time(10, 0), weekday=2)
    return plan, groups


@pytest.mark.django_db
def test_only_approved_content_can_be_scheduled(cast, draft):
    plan = SopPlan.objects.create(name="x", start_date=date(2026, 11, 1))
    with pytest.raises(DomainError) as err:
        services.sop_slot_create(plan=plan, content_id=draft.pk, at=time(10), weekday=0)
    assert err.value.code == "content_not_approved"


@pytest.mark.django_db
def test_a_due_slot_expands_into_one_delivery_per_live_group_even_when_ticked_twice(
    plan_for_pool,
):
    plan, groups = plan_for_pool
    first = services.sop_tick(now=WED_10 + timedelta(seconds=5))
    second = services.sop_tick(now=WED_10 + timedelta(seconds=30))
    assert first == second and len(first) == 1
    created = [services.sop_occurrence_expand(occurrence_id=i, now=WED_10) for i in first + second]
    assert sorted(created) == [0, 12]
    assert SopDelivery.objects.count() == 12
    assert set(SopDelivery.objects.values_list("group_id", flat=True)) == {g.pk for g in groups}
    occurrence = SopOccurrence.objects.get()
    assert occurrence.status == SopOccurrence.Status.EXPANDED
    assert occurrence.content_version_id is not None


@pytest.mark.django_db
def test_nothing_is_due_before_the_slot_time(plan_for_pool):
    assert services.sop_tick(now=WED_10 - timedelta(minutes=1)) == []


@pytest.mark.django_db
def test_a_crashed_expansion_is_taken_over_after_the_claim_times_out(plan_for_pool):
    [occurrence_id] = services.sop_tick(now=WED_10)
    assert services._claim(occurrence_id, WED_10)  # a worker claims it, then dies
    assert services.sop_occurrence_expand(occurrence_id=occurrence_id, now=WED_10) == 0
    later = WED_10 + services.claim_timeout() + timedelta(seconds=1)
    assert services.sop_tick(now=later) == [occurrence_id]
    assert services.sop_occurrence_expand(occurrence_id=occurrence_id, now=later) == 12


@pytest.mark.django_db
def test_groups_over_their_monthly_quota_are_skipped_with_a_reason(plan_for_pool, settings):
    settings.SOP_GROUP_MONTHLY_QUOTA = 1
    plan, groups = plan_for_pool
    [first] = services.sop_tick(now=WED_10)
    assert services.sop_occurrence_process(occurrence_id=first, now=WED_10)  # pushes made
    next_week = WED_10 + timedelta(days=7)
    [second] = services.sop_tick(now=next_week)
    services.sop_occurrence_expand(occurrence_id=second, now=next_week)
    skipped = SopDelivery.objects.filter(occurrence_id=second)
    assert skipped.count() == 12
    assert set(skipped.values_list("status", flat=True)) == {SopDelivery.Status.SKIPPED}
    assert "上限" in skipped.first().reason


def test_the_default_quota_is_the_number_of_days_in_the_month():
    assert group_monthly_quota(date(2026, 2, 10)) == 28
    assert group_monthly_quota(date(2026, 12, 31)) == 31


@pytest.mark.django_db
def test_a_paused_plan_sends_nothing_and_resuming_does_not_send_missed_slots(plan_for_pool):
    plan, _ = plan_for_pool
    services.sop_plan_pause(plan_id=plan.pk)
    assert services.sop_tick(now=WED_10) == []
    services.sop_plan_resume(plan_id=plan.pk)
    assert services.sop_tick(now=timezone.now()) == []
    assert not SopDelivery.objects.exists()


@pytest.mark.django_db
def test_a_slot_missed_for_hours_is_skipped_not_sent_late(plan_for_pool):
    [occurrence_id] = services.sop_tick(now=WED_10 + timedelta(minutes=1))
    assert services.sop_tick(now=WED_10 + services.LATE_GRACE + timedelta(minutes=5)) == []
    occurrence = SopOccurrence.objects.get(pk=occurrence_id)
    assert occurrence.status == SopOccurrence.Status.SKIPPED


@pytest.mark.django_db
def test_cancelling_a_slot_stops_its_unsent_deliveries(plan_for_pool):
    [occurrence_id] = services.sop_tick(now=WED_10)
    services.sop_occurrence_expand(occurrence_id=occurrence_id, now=WED_10)
    stopped = services.sop_occurrence_cancel(occurrence_id=occurrence_id)
    assert stopped == 12
    assert not SopDelivery.objects.filter(status=SopDelivery.Status.PENDING).exists()


@pytest.mark.django_db
def test_the_preview_lists_the_next_seven_days_for_a_group(plan_for_pool, approved):
    plan, groups = plan_for_pool
    items = sop_group_preview(group=groups[0], now=WED_10 - timedelta(days=1))
    assert [i["send_at"] for i in items] == [WED_10]
    assert items[0]["content"] == approved


@pytest.mark.django_db
def test_ops_see_the_preview_page_in_the_admin(client, cast, plan_for_pool):
    plan, groups = plan_for_pool
    client.force_login(cast.ops_admin)
    response = client.get(f"/admin/sop/sopplan/{plan.pk}/preview/?group={groups[0].pk}")
    assert response.status_code == 200
    assert "未来 7 天预览" in response.content.decode()


@pytest.mark.django_db
def test_an_expansion_whose_worker_stopped_before_the_pushes_is_handed_out_again(
    plan_for_pool,
):
    """The expand task's final failure leaves state the tick picks up (and, once the
    slot is long past, skips rather than sends late)."""
    [occurrence_id] = services.sop_tick(now=WED_10)
    assert services.sop_occurrence_expand(occurrence_id=occurrence_id, now=WED_10) == 12
    # The worker died here: deliveries exist, pushes do not.
    assert services.sop_tick(now=WED_10 + timedelta(seconds=30)) == []
    later = WED_10 + services.claim_timeout() + timedelta(seconds=1)
    assert services.sop_tick(now=later) == [occurrence_id]
    push_ids = services.sop_occurrence_process(occurrence_id=occurrence_id, now=later)
    assert len(push_ids) == 3  # one per owner
    assert not SopDelivery.objects.filter(push__isnull=True).exists()
    assert services.sop_tick(now=later + timedelta(seconds=30)) == []


@pytest.mark.django_db
def test_deliveries_never_grouped_into_pushes_are_skipped_once_the_slot_is_long_past(
    plan_for_pool,
):
    [occurrence_id] = services.sop_tick(now=WED_10)
    services.sop_occurrence_expand(occurrence_id=occurrence_id, now=WED_10)
    too_late = WED_10 + services.LATE_GRACE + timedelta(minutes=1)
    assert services.sop_tick(now=too_late) == []
    deliveries = SopDelivery.objects.filter(occurrence_id=occurrence_id)
    assert set(deliveries.values_list("status", flat=True)) == {SopDelivery.Status.SKIPPED}
    assert deliveries.first().reason == "错过发送时间，未补发"


@pytest.mark.django_db
def test_processing_an_occurrence_whose_plan_was_deleted_does_nothing(plan_for_pool):
    plan, _groups = plan_for_pool
    [occurrence_id] = services.sop_tick(now=WED_10)
    plan.delete()
    assert services.sop_occurrence_process(occurrence_id=occurrence_id, now=WED_10) == []
