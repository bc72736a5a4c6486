"""Deadlines on China's official calendar: real holidays and 调休 of 2026, coverage, 2027 from config.

The expected dates below were checked against the installed `chinesecalendar` package (the
first tests compare the calendar with the package day by day), not typed in from memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from core.settings import PublishedSchedule, Settings, TicketSettings
from tests.tickets.helpers import AGENT, SUPERVISOR
from tests.utils.factories import ticket_data
from tests.utils.ticketdb import FakeClock
from tickets.service import TicketDesk
from tickets.sla import SlaPolicy, log_coverage
from tickets.workcalendar import Schedule

CN = ZoneInfo("Asia/Shanghai")

# A 2027 schedule as an operator would copy it from the State Council's notice into config.yml.
# Test input only (the package does not know 2027): New Year's Day off, and one 调休 Saturday.
SCHEDULE_2027 = PublishedSchedule(
    holidays=["2027-01-01", "2027-01-02", "2027-01-03"], makeup_workdays=["2027-01-09"]
)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CN)


def policy(**changes: object) -> SlaPolicy:
    return SlaPolicy.from_settings(TicketSettings().model_copy(update=changes))


def days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days)]


def test_every_day_of_2026_agrees_with_the_package() -> None:
    calendar = policy().calendar
    assert [d for d in days_of(2026) if calendar.is_workday(d) != chinese_calendar.is_workday(d)] == []


def test_the_package_facts_the_tables_rely_on() -> None:
    """National Day 2026-10-01..07 off, Saturday 2026-10-10 worked; Spring Festival 2026-02-15..23."""
    calendar = policy().calendar
    national_day = [date(2026, 10, d) for d in range(1, 8)]
    assert all(chinese_calendar.is_holiday(d) for d in national_day)
    assert [calendar.day_info(d).reason for d in national_day] == ["official_holiday"] * 7
    assert calendar.day_info(date(2026, 10, 1)).name == "国庆节"
    saturday = calendar.day_info(date(2026, 10, 10))
    assert date(2026, 10, 10).isoweekday() == 6 and chinese_calendar.is_workday(date(2026, 10, 10))
    assert (saturday.working, saturday.reason, saturday.name) == (True, "official_workday", "国庆节")
    spring = sorted(
        d
        for d, name in chinese_calendar.holidays.items()
        if d.year == 2026 and name == chinese_calendar.Holiday.spring_festival.value
    )
    assert (spring[0], spring[-1], len(spring)) == (date(2026, 2, 15), date(2026, 2, 23), 9)
    assert not any(calendar.is_workday(d) for d in spring)
    spring_makeup = sorted(
        d
        for d, name in chinese_calendar.workdays.items()
        if d.year == 2026 and name == chinese_calendar.Holiday.spring_festival.value
    )
    assert spring_makeup == [date(2026, 2, 14), date(2026, 2, 28)]  # two Saturdays
    assert all(calendar.is_workday(d) for d in spring_makeup)


@pytest.mark.parametrize(
    ("received", "working_days", "due"),
    [
        # National Day: 2 h on Wednesday 9-30, seven days off, then Thursday and Friday
        ("2026-09-30 16:00", 1, "2026-10-08 16:00"),
        ("2026-09-30 16:00", 2, "2026-10-09 16:00"),
        ("2026-09-30 16:00", 3, "2026-10-10 16:00"),  # Saturday 10-10 is a 调休 working day
        ("2026-09-30 16:00", 5, "2026-10-13 16:00"),  # 10-10 counted: not 10-14
        ("2026-10-02 10:00", 1, "2026-10-08 18:00"),  # received during the break: all of Thursday
        # Spring Festival: Saturday 2-14 worked, 2-15..2-23 off
        ("2026-02-13 17:00", 1, "2026-02-14 17:00"),
        ("2026-02-14 17:00", 1, "2026-02-24 17:00"),
        ("2026-02-12 10:00", 5, "2026-02-26 10:00"),
        # 清明 (Saturday to Monday off), 劳动节 (5-1..5-5 off, Saturday 5-9 worked), 元旦 (Sunday 1-4 worked)
        ("2026-04-03 10:00", 1, "2026-04-07 10:00"),
        ("2026-04-30 10:00", 1, "2026-05-06 10:00"),
        ("2026-05-08 17:00", 1, "2026-05-09 17:00"),
        ("2025-12-31 10:00", 1, "2026-01-04 10:00"),
    ],
)
def test_deadlines_on_real_dates(received: str, working_days: float, due: str) -> None:
    sla = policy()
    deadline = sla.working_deadline(local(received), working_days)
    assert deadline == local(due)
    assert not sla.calendar.estimated(deadline)


def test_a_normal_ticket_before_national_day_gets_both_deadlines_after_the_break() -> None:
    due = policy(feedback_working_days=2).deadlines(local("2026-09-30 16:00"), urgent=False)
    assert (due.feedback, due.completion, due.estimated) == (
        local("2026-10-09 16:00"),
        local("2026-10-13 16:00"),
        False,
    )


def test_urgent_tickets_keep_two_wall_clock_hours_on_a_holiday() -> None:
    due = policy().deadlines(local("2026-10-02 10:00"), urgent=True)
    assert (due.feedback, due.estimated) == (local("2026-10-02 12:00"), False)


def test_a_deadline_in_2027_is_counted_on_weekdays_and_flagged() -> None:
    due = policy().deadlines(local("2026-12-28 10:00"), urgent=False)
    assert due.feedback == local("2026-12-29 10:00")
    assert due.completion == local("2027-01-04 10:00")  # Friday 2027-01-01 counted as a weekday
    assert due.estimated is True
    assert policy().calendar.day_info(date(2027, 1, 1)).known is False


def test_config_supplies_2027_and_the_deadline_is_no_longer_estimated() -> None:
    sla = policy(published_schedules={2027: SCHEDULE_2027})
    due = sla.deadlines(local("2026-12-28 10:00"), urgent=False)
    assert (due.completion, due.estimated) == (local("2027-01-05 10:00"), False)
    assert sla.calendar.known_until == date(2027, 12, 31)
    assert sla.calendar.day_info(date(2027, 1, 9)).reason == "official_workday"
    # a Friday received before the 调休 Saturday: one working day ends on that Saturday
    assert sla.working_deadline(local("2027-01-08 17:00"), 1) == local("2027-01-09 17:00")


def test_a_published_year_replaces_the_package_year() -> None:
    sla = policy(published_schedules={2026: PublishedSchedule(holidays=["2026-10-01"])})
    assert sla.calendar.is_workday(date(2026, 10, 2))  # the package's other National Day days are gone
    assert not sla.calendar.is_workday(date(2026, 10, 10))  # and so is its 调休 Saturday
    assert not sla.calendar.is_workday(date(2026, 10, 1))


def test_local_days_override_the_official_schedule() -> None:
    closed = policy(holidays=["2026-10-08"])  # a department's own closed day after the break
    assert closed.working_deadline(local("2026-09-30 16:00"), 1) == local("2026-10-09 16:00")
    opened = policy(makeup_workdays=["2026-10-07"])  # a city's own 调休: the last day of the break worked
    assert opened.working_deadline(local("2026-09-30 16:00"), 1) == local("2026-10-07 16:00")
    assert opened.calendar.day_info(date(2026, 10, 7)).reason == "local_workday"


@pytest.mark.parametrize(
    "changes",
    [
        {"holidays": ["2026-10-10"], "makeup_workdays": ["2026-10-10"]},
        {
            "published_schedules": {
                2027: PublishedSchedule(holidays=["2027-01-01"], makeup_workdays=["2027-01-01"])
            }
        },
    ],
)
def test_a_day_both_off_and_worked_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="both holiday"):
        policy(**changes)


def test_without_the_official_calendar_nothing_is_known() -> None:
    sla = policy(official_calendar=False)
    assert sla.calendar.known_until is None
    assert sla.calendar.is_workday(date(2026, 10, 1))  # a Thursday, counted as a weekday
    assert sla.deadlines(local("2026-11-23 10:00"), urgent=False).estimated is True


def test_the_package_schedule_spans_its_years() -> None:
    schedule = Schedule.from_package()
    assert min(schedule.years) == 2004 and max(schedule.years) == 2026
    assert schedule.sources == (f"chinesecalendar {chinese_calendar.__version__}",)


@pytest.mark.parametrize(
    ("now", "warned"),
    [
        (local("2026-06-15 10:00"), False),
        (local("2026-10-31 23:59"), False),
        (datetime(2026, 10, 31, 16, 30, tzinfo=UTC), True),  # already 1 November in Shanghai
        (local("2026-12-20 10:00"), True),
        (local("2027-01-04 10:00"), True),  # past the known calendar
    ],
)
def test_coverage_warns_from_november_when_next_year_is_unknown(now: datetime, warned: bool) -> None:
    cover = policy().calendar.coverage(now)
    assert cover.known_until == date(2026, 12, 31)
    assert (cover.warning is not None) is warned


def test_coverage_with_next_year_supplied_does_not_warn_and_names_its_sources() -> None:
    cover = policy(published_schedules={2027: SCHEDULE_2027}).calendar.coverage(local("2026-12-20 10:00"))
    assert cover.warning is None
    assert cover.as_dict()["known_until"] == "2027-12-31"
    assert cover.sources == (f"chinesecalendar {chinese_calendar.__version__}", "config.yml 2027")


def test_the_warning_month_is_configured() -> None:
    assert policy(calendar_warn_month=12).calendar.coverage(local("2026-11-20 10:00")).warning is None


def test_coverage_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tickets.sla"):
        log_coverage(policy().calendar, local("2026-11-02 09:00"))
    events = {r.getMessage(): r for r in caplog.records}
    assert events["tickets.calendar.coverage"].known_until == "2026-12-31"  # type: ignore[attr-defined]
    assert events["tickets.calendar.outdated"].levelno == logging.WARNING


# --- on the ticket desk (SQLite and PostgreSQL) ---------------------------------------------


def test_a_ticket_before_national_day_is_due_after_the_break(desk: TicketDesk, clock: FakeClock) -> None:
    clock.set_local("2026-09-30 16:00")
    ticket = desk.create(ticket_data(), actor=AGENT.name)
    shown = desk.show(ticket.ticket_no, viewer=SUPERVISOR).ticket
    assert shown.feedback_deadline == local("2026-10-08 16:00")
    assert shown.completion_deadline == local("2026-10-13 16:00")  # Saturday 10-10 counted
    assert shown.deadline_estimated is False


def test_a_deadline_beyond_the_calendar_is_flagged_logged_and_recomputed_once_known(
    make_desk: Callable[[], TicketDesk],
    ticket_settings: Settings,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    desk = make_desk()
    clock.set_local("2026-12-28 10:00")
    with caplog.at_level(logging.WARNING, logger="tickets.sla"):
        ticket = desk.create(ticket_data(), actor=AGENT.name)
    flagged = [r for r in caplog.records if r.getMessage() == "tickets.deadline.estimated"]
    assert [r.ticket_no for r in flagged] == [ticket.ticket_no]  # type: ignore[attr-defined]
    assert flagged[0].calendar_known_until == "2026-12-31"  # type: ignore[attr-defined]
    summary = desk.queue(viewer=SUPERVISOR, queue="all")[0]
    assert (summary.deadline_estimated, summary.completion_deadline) == (True, local("2027-01-04 10:00"))

    report, _ = desk.sweep()  # 2027 still unknown: nothing to recompute
    assert report.recalendared == []

    ticket_settings.tickets.published_schedules = {2027: SCHEDULE_2027}  # the operator adds 2027
    updated = make_desk()  # a restart with the new config
    clock.advance(hours=1)
    report, _ = updated.sweep()
    assert report.recalendared == [ticket.ticket_no]
    view = updated.show(ticket.ticket_no, viewer=SUPERVISOR)
    assert view.ticket.deadline_estimated is False
    assert view.ticket.completion_deadline == local("2027-01-05 10:00")
    assert view.audit[-1]["action"] == "recalendar"
    assert view.audit[-1]["changes"]["completion_deadline"][1] == "2027-01-05T02:00:00+00:00"  # stored in UTC
    assert updated.sweep()[0].recalendared == []  # once


def test_the_desk_logs_coverage_once_a_day_from_its_sweeps(
    desk: TicketDesk, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    clock.set_local("2026-10-30 10:00")
    with caplog.at_level(logging.INFO, logger="tickets.sla"):
        desk.sweep()
        desk.sweep()
        clock.set_local("2026-11-01 09:00")
        desk.sweep()
    messages = [r.getMessage() for r in caplog.records if r.name == "tickets.sla"]
    assert messages == ["tickets.calendar.coverage", "tickets.calendar.coverage", "tickets.calendar.outdated"]
