"""D6: the 7-day preview shows exactly what the tick then records and sends.

Both come from one computation (``due_slots``): weekly and daily slots, seasons,
and the holiday policies (shifted to the next working day, or skipped) over
China's National Day week of 2026.
"""

from datetime import date, datetime, time, timedelta

import pytest

from groups.sop import services
from groups.sop.models import SopOccurrence, SopPlan
from groups.sop.selectors import sop_group_preview
from scrm.core.workdays import SHANGHAI
from tests.factories import CustomerGroupFactory

# Tuesday 6 October 2026, 09:00: the National Day holiday runs until the 7th.
PREVIEW_AT = datetime(2026, 10, 6, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def holiday_plans(approved):
    group = CustomerGroupFactory()
    since = datetime(2026, 9, 1, tzinfo=SHANGHAI)
    shift = SopPlan.objects.create(
        name="福利周历", start_date=date(2026, 9, 1), active_since=since, holiday_policy="shift"
    )
    skip = SopPlan.objects.create(
        name="晚间提醒", start_date=date(2026, 9, 1), active_since=since, holiday_policy="skip"
    )
    for plan in (shift, skip):
        plan.target_groups.add(group)

    def slot(plan, at, **kw):
        services.sop_slot_create(plan=plan, content_id=approved.pk, at=at, **kw)

    slot(shift, time(10, 0), weekday=2)  # Wednesdays
    slot(shift, time(11, 30), valid_from=date(2026, 10, 9))  # daily from the 9th
    slot(shift, time(8, 0), valid_from=date(2026, 10, 5), valid_until=date(2026, 10, 5))
    slot(skip, time(20, 0), weekday=1)  # Tuesdays
    return group


def _moment(send_at, nominal_at):
    return send_at or nominal_at


def _order(row):
    slot_id, nominal_at, send_at, _note = row
    return (_moment(send_at, nominal_at), slot_id, nominal_at)


@pytest.mark.django_db
def test_the_preview_lists_exactly_what_the_tick_then_records(holiday_plans, monkeypatch):
    # Ticks here only record (nothing is expanded), so nothing may count as missed.
    monkeypatch.setattr(services, "LATE_GRACE", timedelta(days=60))
    items = sop_group_preview(group=holiday_plans, now=PREVIEW_AT)
    assert [_moment(i["send_at"], i["nominal_at"]) for i in items] == sorted(
        _moment(i["send_at"], i["nominal_at"]) for i in items
    )
    preview = sorted(
        ((i["slot"].pk, i["nominal_at"], i["send_at"], i["note"]) for i in items), key=_order
    )

    # The beat ticks every minute; ticks 110 minutes apart cover the same times
    # (each looks back two hours).
    tick = datetime(2026, 9, 28, tzinfo=SHANGHAI)
    while tick <= PREVIEW_AT + timedelta(days=8):
        services.sop_tick(now=tick)
        tick += timedelta(minutes=110)
    until = PREVIEW_AT + timedelta(days=7)
    recorded = sorted(
        (
            (
                o.slot_id,
                o.nominal_at,
                None if o.status == SopOccurrence.Status.SKIPPED else o.send_at,
                o.reason,
            )
            for o in SopOccurrence.objects.all()
            if PREVIEW_AT < o.send_at <= until
        ),
        key=_order,
    )
    assert preview == recorded

    by_reason = [(nominal.astimezone(SHANGHAI), note) for _s, nominal, _at, note in preview]
    # The Wednesday of the holiday and the 5 October slot (due before the preview was
    # asked for) go out on Thursday 8 October; Tuesday evening's reminder is skipped.
    assert (datetime(2026, 10, 7, 10, 0, tzinfo=SHANGHAI), "节假日顺延至 2026-10-08") in by_reason
    assert (datetime(2026, 10, 5, 8, 0, tzinfo=SHANGHAI), "节假日顺延至 2026-10-08") in by_reason
    assert (datetime(2026, 10, 6, 20, 0, tzinfo=SHANGHAI), "节假日跳过") in by_reason
    assert len(preview) == 7
