"""The SLA clock: urgent matters on the wall clock, normal ones on the working-hours calendar."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.settings import TicketSettings
from tickets.sla import SlaPolicy
from tickets.workcalendar import WorkCalendar

CN = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CN)


def policy(**changes: object) -> SlaPolicy:
    cfg = TicketSettings(urgent_keywords=["燃气泄漏", "食物中毒"])
    return SlaPolicy.from_settings(cfg.model_copy(update=changes))


def test_a_working_day_is_the_sum_of_the_periods() -> None:
    assert policy().calendar.day_length == timedelta(hours=7, minutes=30)


def test_urgent_feedback_is_two_wall_clock_hours_even_on_a_saturday_night() -> None:
    due = policy().deadlines(local("2026-11-28 23:00"), urgent=True)
    assert due.feedback == local("2026-11-29 01:00")
    assert due.completion == local("2026-11-29 23:00")
    assert due.estimated is False


@pytest.mark.parametrize(
    ("received", "feedback"),
    [
        ("2026-11-23 10:00", "2026-11-24 10:00"),  # Monday morning: the same time next working day
        ("2026-11-23 12:30", "2026-11-24 12:00"),  # lunch break: counting starts at 13:30
        ("2026-11-23 20:00", "2026-11-24 18:00"),  # evening: the whole of Tuesday
        ("2026-11-27 17:00", "2026-11-30 17:00"),  # Friday 17:00: one hour, the weekend, Monday
        ("2026-11-28 11:00", "2026-11-30 18:00"),  # Saturday: nothing counts until Monday 09:00
    ],
)
def test_normal_feedback_is_one_working_day(received: str, feedback: str) -> None:
    assert policy().deadlines(local(received), urgent=False).feedback == local(feedback)


def test_completion_is_five_working_days_across_a_weekend() -> None:
    assert policy().deadlines(local("2026-11-25 10:00"), urgent=False).completion == local("2026-12-02 10:00")


def test_holidays_do_not_count_and_makeup_workdays_do() -> None:
    holiday = policy(holidays=["2026-11-30"])
    assert holiday.deadlines(local("2026-11-27 17:00"), urgent=False).feedback == local("2026-12-01 17:00")
    makeup = policy(makeup_workdays=["2026-11-28"])
    assert makeup.deadlines(local("2026-11-27 17:00"), urgent=False).feedback == local("2026-11-28 17:00")


def test_working_time_between_two_moments() -> None:
    calendar = policy().calendar
    assert calendar.between(local("2026-11-27 17:00"), local("2026-11-30 10:00")) == timedelta(hours=2)
    assert calendar.between(local("2026-11-30 10:00"), local("2026-11-27 17:00")) == timedelta()


def test_left_fraction_uses_the_matching_clock() -> None:
    sla = policy()
    start = local("2026-11-27 17:00")
    deadline = sla.deadlines(start, urgent=False).feedback  # Monday 17:00, 7.5 working hours
    # Sunday: no working time has passed, so the whole window is left
    assert sla.left_fraction(start, deadline, local("2026-11-29 12:00"), urgent=False) == pytest.approx(
        6.5 / 7.5
    )
    assert sla.left_fraction(start, deadline, local("2026-11-30 16:00"), urgent=False) == pytest.approx(
        1 / 7.5
    )
    urgent_deadline = start + timedelta(hours=2)
    assert sla.left_fraction(start, urgent_deadline, start + timedelta(minutes=90), urgent=True) == 0.25
    assert sla.left_fraction(start, urgent_deadline, urgent_deadline, urgent=True) == 0.0


def test_urgent_keywords_are_found_in_the_text() -> None:
    assert policy().urgent_keyword("楼道里有燃气泄漏的味道") == "燃气泄漏"
    assert policy().urgent_keyword("路灯坏了") is None


@pytest.mark.parametrize("periods", [[("12:00", "09:00")], [("09:00", "12:00"), ("11:00", "14:00")], []])
def test_bad_working_hours_are_refused(periods: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError, match="period"):
        WorkCalendar.build(timezone="Asia/Shanghai", periods=periods, weekdays=[1, 2, 3, 4, 5])
