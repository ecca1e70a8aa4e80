"""When weekly SOP slots fall due, including Chinese holidays and make-up days (D6)."""

from datetime import date, datetime, time

from groups.sop import calendar

SH = calendar.SHANGHAI


def _times(**kw):
    defaults = dict(valid_from=None, valid_until=None, plan_start=date(2026, 1, 1), plan_end=None)
    return calendar.nominal_times(**{**defaults, **kw})


def test_a_wednesday_slot_falls_due_once_a_week_at_its_local_time():
    times = _times(
        weekday=2,
        at=time(10, 0),
        after=datetime(2026, 11, 1, tzinfo=SH),
        until=datetime(2026, 11, 30, 23, 59, tzinfo=SH),
    )
    assert [t.day for t in times] == [4, 11, 18, 25]
    assert all(t.hour == 10 and t.tzinfo == SH for t in times)


def test_a_daily_meal_time_slot_falls_due_every_day_within_its_season():
    times = _times(
        weekday=None,
        at=time(11, 30),
        valid_from=date(2026, 11, 10),
        valid_until=date(2026, 11, 12),
        after=datetime(2026, 11, 1, tzinfo=SH),
        until=datetime(2026, 11, 30, tzinfo=SH),
    )
    assert [t.day for t in times] == [10, 11, 12]


def test_the_window_is_half_open_so_two_ticks_never_both_claim_a_slot():
    at_ten = datetime(2026, 11, 4, 10, 0, tzinfo=SH)
    first = _times(weekday=2, at=time(10), after=at_ten.replace(hour=9), until=at_ten)
    second = _times(weekday=2, at=time(10), after=at_ten, until=at_ten.replace(hour=11))
    assert first == [at_ten] and second == []


def test_national_day_is_a_rest_day_and_a_make_up_sunday_is_a_workday():
    assert calendar.is_rest_day(date(2026, 10, 1))
    assert not calendar.is_rest_day(date(2026, 11, 4))
    assert calendar.is_rest_day(date(2026, 11, 8))  # an ordinary Sunday


def test_holiday_policy_skip_drops_and_shift_moves_to_the_next_workday():
    national_day = datetime(2026, 10, 1, 10, 0, tzinfo=SH)
    assert calendar.send_time_for(national_day, "send") == (national_day, "")
    skipped, reason = calendar.send_time_for(national_day, "skip")
    assert skipped is None and reason
    shifted, _ = calendar.send_time_for(national_day, "shift")
    assert shifted.date() > national_day.date()
    assert not calendar.is_rest_day(shifted.date())
    assert shifted.hour == 10


def test_years_without_official_data_fall_back_to_weekends():
    assert calendar.is_rest_day(date(2031, 1, 4))  # a Saturday
    assert not calendar.is_rest_day(date(2031, 1, 6))  # a Monday
