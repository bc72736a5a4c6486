"""The daily report's numbers on a small controlled set of tickets, with the clock driven by the test."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from core.vocab import CALLED_BACK, COMPLETED, FEEDBACK, MERGED
from server.report_page import render_daily
from tests.reports.conftest import SUPERVISOR, new_ticket, walk
from tests.utils.ticketdb import FakeClock
from tickets.lifecycle import TransitionRequest
from tickets.reports import ReportError, daily_report, desk_daily_report, hot_words, parse_day
from tickets.service import TicketDesk
from tickets.unanswered import record_unanswered

ZONE = ZoneInfo("Asia/Shanghai")


def _counts(rows: list[object]) -> dict[str, int]:
    return {row.label: row.count for row in rows}  # type: ignore[attr-defined]


@pytest.fixture
def day_of_tickets(desk: TicketDesk, clock: FakeClock) -> dict[str, str]:
    """Monday: three tickets and a duplicate; one the day before; then the clock moves to Tuesday noon."""
    clock.set_local("2026-11-22 15:00")
    new_ticket(desk, "前一天的工单", category="环境保护")
    clock.set_local("2026-11-23 10:00")
    nos = {
        "lamp": new_ticket(desk, "小区路灯坏了", content="幸福小区路灯坏了，存在问题，希望尽快处理。"),
        "lamp2": new_ticket(desk, "小区路灯坏了！", channel="web"),
        "noise": new_ticket(desk, "工地夜间噪音扰民", category="环境保护"),
        "dup": new_ticket(desk, "重复反映路灯", channel="web"),
    }
    desk.transition(nos["dup"], TransitionRequest(to=MERGED, merged_into=nos["lamp2"]), viewer=SUPERVISOR)
    clock.set_local("2026-11-23 10:30")
    walk(desk, nos["lamp"], CALLED_BACK)  # fed back on time, completed, called back 满意
    clock.set_local("2026-11-24 12:00")  # past Monday's 1-working-day feedback deadline
    walk(desk, nos["noise"], FEEDBACK)  # fed back late
    return nos


def test_counts_by_category_channel_and_department(desk: TicketDesk, day_of_tickets: dict[str, str]) -> None:
    report = desk_daily_report(desk, day="2026-11-23")
    assert report.received == 3 and report.merged == 1
    assert _counts(report.by_category) == {"城乡建设": 2, "环境保护": 1}
    assert _counts(report.by_channel) == {"hotline": 2, "web": 1}  # the merged web one not counted
    assert _counts(report.by_department) == {"市住房城乡建设局": 2, "市生态环境局": 1}
    assert report.by_category[0].label == "城乡建设"  # largest first


def test_on_time_rates_and_flags_follow_the_clock(desk: TicketDesk, day_of_tickets: dict[str, str]) -> None:
    sla = desk_daily_report(desk, day="2026-11-23").sla
    # due: lamp (fed back on time), noise (late), lamp2 (deadline passed, no feedback)
    assert (sla["feedback_due"], sla["feedback_on_time"]) == (3, 1)
    assert sla["on_time_feedback_rate"] == pytest.approx(1 / 3)
    assert (sla["completion_due"], sla["completion_on_time"], sla["on_time_completion_rate"]) == (1, 1, 1.0)
    assert sla["overdue"] == 1 and sla["at_risk"] == 0  # lamp2 is still 待受理
    # the backlog holds every open ticket: Sunday's one (clock from Monday 09:00) is overdue too
    assert (sla["backlog_open"], sla["backlog_overdue"]) == (3, 2)


def test_at_risk_counts_an_urgent_ticket_near_its_deadline(desk: TicketDesk, clock: FakeClock) -> None:
    new_ticket(desk, "燃气泄漏", urgent=True)  # feedback due in 2 wall-clock hours
    clock.advance(minutes=100)  # 20 of 120 minutes left: under the 25 % line
    assert desk_daily_report(desk, day="2026-11-23").sla["at_risk"] == 1
    clock.advance(minutes=30)
    sla = desk_daily_report(desk, day="2026-11-23").sla
    assert (sla["at_risk"], sla["overdue"]) == (0, 1)


def test_satisfaction_and_activity_count_the_steps_taken_that_day(
    desk: TicketDesk, day_of_tickets: dict[str, str]
) -> None:
    monday = desk_daily_report(desk, day="2026-11-23")
    assert _counts(monday.satisfaction) == {"满意": 1, "基本满意": 0, "不满意": 0}
    assert monday.activity == {"feedback": 1, "completed": 1, "called_back": 1}
    tuesday = desk_daily_report(desk, day="2026-11-24")
    assert tuesday.received == 0 and tuesday.activity["feedback"] == 1  # the late feedback


def test_hot_words_and_questions_skip_stop_words(desk: TicketDesk, day_of_tickets: dict[str, str]) -> None:
    report = desk_daily_report(desk, day="2026-11-23")
    words = _counts(report.hot_words)
    assert words["路灯"] == 2 and words["小区"] == 2
    assert not {"问题", "希望", "尽快", "处理"} & set(words)
    assert report.hot_questions[0].text == "小区路灯坏了" and report.hot_questions[0].count == 2


def test_unanswered_questions_are_masked_and_grouped_as_gaps(desk: TicketDesk, clock: FakeClock) -> None:
    clock.set_local("2026-11-23 11:00")
    for text, reason in [
        ("电动车充电桩在哪里装？我电话13812345678", "low_confidence"),
        ("电动车充电桩在哪里装", "low_confidence"),
        ("你是谁", "out_of_scope"),
        ("", "empty"),
    ]:
        desk.db.run(
            lambda s, t=text, r=reason: record_unanswered(
                session=s, text=t, reason=r, channel="web", now=clock()
            )
        )
    clock.set_local("2026-11-24 09:00")
    desk.db.run(
        lambda s: record_unanswered(session=s, text="次日的问题", reason="x", channel="web", now=clock())
    )
    report = desk_daily_report(desk, day="2026-11-23")
    assert report.unanswered == 3
    assert report.kb_gaps[0].count == 2 and report.kb_gaps[0].reasons == ["low_confidence"]
    stored = " ".join(g.text for g in report.kb_gaps)
    assert "13812345678" not in stored and "138****5678" in stored
    assert any(h.source == "assistant" and h.count == 2 for h in report.hot_questions)
    assert _counts(report.hot_words)["电动车"] == 2


def test_an_empty_day_gives_an_empty_but_valid_report(desk: TicketDesk) -> None:
    report = desk_daily_report(desk, day="2026-01-01")
    assert report.received == 0 and report.by_category == [] and report.hot_words == []
    assert report.sla["on_time_feedback_rate"] is None
    assert _counts(report.satisfaction) == {"满意": 0, "基本满意": 0, "不满意": 0}
    page = render_daily(report)
    assert "无数据" in page and "<svg" not in page and page.startswith("<!doctype html>")


def test_day_boundaries_are_local(desk: TicketDesk, clock: FakeClock) -> None:
    clock.set_local("2026-11-23 07:30")  # 2026-11-22 23:30 UTC
    new_ticket(desk, "清晨来电")
    with desk.db.session() as s:
        local = daily_report(session=s, day=date(2026, 11, 23), zone=ZONE, policy=desk.policy, now=clock())
        utc = daily_report(
            session=s, day=date(2026, 11, 23), zone=ZoneInfo("UTC"), policy=desk.policy, now=clock()
        )
    assert (local.received, utc.received) == (1, 0)


def test_dates_are_checked_and_default_to_the_local_today(clock: FakeClock) -> None:
    clock.set_local("2026-11-24 01:00")  # still Monday in UTC
    assert parse_day(None, zone=ZONE, now=clock()) == date(2026, 11, 24)
    with pytest.raises(ReportError, match="YYYY-MM-DD"):
        parse_day("2026-02-30", zone=ZONE, now=clock())


def test_hot_words_count_each_text_once() -> None:
    words = {c.label: c.count for c in hot_words(["噪音噪音噪音扰民", "噪音"])}
    assert words["噪音"] == 2


def test_page_draws_svg_and_escapes_ticket_text(desk: TicketDesk) -> None:
    new_ticket(desk, "<script>alert(1)</script>路灯", content="<img src=x onerror=alert(2)>")
    page = render_daily(desk_daily_report(desk, day="2026-11-23"))
    assert page.count("<svg") >= 3  # category, channel, department (and more)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;路灯" in page
    assert "<img" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched


def test_on_time_rates_across_national_day_follow_the_official_calendar(
    desk: TicketDesk, clock: FakeClock
) -> None:
    """Received 2026-09-30 16:00: feedback due 10-08 16:00, completion 10-13 16:00 (Saturday 10-10
    worked). Counting weekdays only, both deadlines would fall inside the break; skipping 10-10,
    the completion at 10-13 17:00 would count as on time."""
    clock.set_local("2026-09-30 16:00")
    on_time, late = new_ticket(desk, "节前的工单"), new_ticket(desk, "节前的另一件工单")
    clock.set_local("2026-10-08 15:00")  # after seven days off, before the deadline
    walk(desk, on_time, FEEDBACK)
    clock.set_local("2026-10-08 17:00")
    walk(desk, late, FEEDBACK)
    clock.set_local("2026-10-13 15:00")
    desk.transition(on_time, TransitionRequest(to=COMPLETED), viewer=SUPERVISOR)
    clock.set_local("2026-10-13 17:00")  # on time only if 10-10 were not a working day
    desk.transition(late, TransitionRequest(to=COMPLETED), viewer=SUPERVISOR)
    clock.set_local("2026-10-14 10:00")
    sla = desk_daily_report(desk, day="2026-09-30").sla
    assert (sla["feedback_due"], sla["feedback_on_time"], sla["on_time_feedback_rate"]) == (2, 1, 0.5)
    assert (sla["completion_due"], sla["completion_on_time"], sla["on_time_completion_rate"]) == (2, 1, 0.5)
    ticket = desk.show(on_time, viewer=SUPERVISOR).ticket
    assert ticket.feedback_deadline.astimezone(ZONE).isoformat() == "2026-10-08T16:00:00+08:00"
    assert ticket.completion_deadline.astimezone(ZONE).isoformat() == "2026-10-13T16:00:00+08:00"
