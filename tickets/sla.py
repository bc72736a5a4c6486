"""SLA policy: urgency, deadlines, the at-risk / overdue sweep (督办) and on-time rates.

Urgent matters (configured keywords, or marked by an agent) run on the wall clock
(feedback within 2 hours); normal ones on the working-hours calendar, which follows China's
official holidays and 调休 (tickets/workcalendar.py). Deadlines are computed once, at creation,
and stored; one that falls after the known calendar is counted on weekdays only, flagged on the
ticket (`deadline_estimated`) and logged, and the sweeper recomputes it once the year is known.
Every function takes `now`, so tests drive the clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.settings import TicketSettings
from core.vocab import AWAITING_COMPLETION, AWAITING_FEEDBACK, MERGED, STATES
from tickets.models import AuditEntry, Escalation, Notification, Ticket
from tickets.workcalendar import Coverage, Schedule, WorkCalendar

log = logging.getLogger(__name__)


def calendar_from_settings(cfg: TicketSettings) -> WorkCalendar:
    """The working calendar: official schedule (package, then config's published years), local days."""
    official = Schedule.from_package() if cfg.official_calendar else Schedule.empty()
    for year, published in sorted(cfg.published_schedules.items()):
        official = official.with_year(year, holidays=published.holidays, workdays=published.makeup_workdays)
    return WorkCalendar.build(
        timezone=cfg.timezone,
        periods=[(p.start, p.end) for p in cfg.working_hours],
        weekdays=cfg.working_weekdays,
        holidays=cfg.holidays,
        makeup_days=cfg.makeup_workdays,
        official=official,
        warn_month=cfg.calendar_warn_month,
    )


def log_coverage(calendar: WorkCalendar, now: datetime) -> Coverage:
    """Say in the log up to which day the calendar is known; a warning when the operator must act."""
    cover = calendar.coverage(now)
    log.info("tickets.calendar.coverage", extra=cover.as_dict())
    if cover.warning:
        log.warning("tickets.calendar.outdated", extra=cover.as_dict())
    return cover


@dataclass(frozen=True)
class Deadlines:
    feedback: datetime
    completion: datetime
    estimated: bool  # a deadline lies after the known calendar (counted on weekdays only)


@dataclass(frozen=True)
class SlaPolicy:
    calendar: WorkCalendar
    urgent_keywords: tuple[str, ...]
    urgent_feedback: timedelta
    urgent_completion: timedelta
    feedback_working: timedelta
    completion_working: timedelta
    at_risk_fraction: float

    @classmethod
    def from_settings(cls, cfg: TicketSettings) -> SlaPolicy:
        calendar = calendar_from_settings(cfg)
        day = calendar.day_length
        return cls(
            calendar=calendar,
            urgent_keywords=tuple(cfg.urgent_keywords),
            urgent_feedback=timedelta(hours=cfg.urgent_feedback_hours),
            urgent_completion=timedelta(hours=cfg.urgent_completion_hours),
            feedback_working=day * cfg.feedback_working_days,
            completion_working=day * cfg.completion_working_days,
            at_risk_fraction=cfg.at_risk_fraction,
        )

    def urgent_keyword(self, text: str) -> str | None:
        """The first configured urgent keyword in `text`, if any."""
        return next((word for word in self.urgent_keywords if word and word in text), None)

    def deadlines(self, received_at: datetime, *, urgent: bool) -> Deadlines:
        """Feedback and completion deadlines for a ticket received at `received_at`."""
        if urgent:
            return Deadlines(received_at + self.urgent_feedback, received_at + self.urgent_completion, False)
        feedback = self.calendar.add(received_at, self.feedback_working).astimezone(UTC)
        completion = self.calendar.add(received_at, self.completion_working).astimezone(UTC)
        return Deadlines(feedback, completion, self.calendar.estimated(max(feedback, completion)))

    def working_deadline(self, start: datetime, working_days: float) -> datetime:
        """The moment `working_days` working days after `start` (`govbot calendar deadline`)."""
        return self.calendar.add(start, self.calendar.day_length * working_days)

    def left_fraction(self, start: datetime, deadline: datetime, now: datetime, *, urgent: bool) -> float:
        """Share of the window [start, deadline] still left at `now` (0 when past)."""
        if now >= deadline:
            return 0.0
        if urgent:
            window, left = deadline - start, deadline - now
        else:
            window, left = self.calendar.between(start, deadline), self.calendar.between(now, deadline)
        return left / window if window > timedelta() else 0.0


def set_deadlines(ticket: Ticket, policy: SlaPolicy, *, urgent: bool) -> Deadlines:
    """Give `ticket` its deadlines and the `deadline_estimated` flag; an estimate is logged."""
    deadlines = policy.deadlines(ticket.received_at, urgent=urgent)
    ticket.feedback_deadline, ticket.completion_deadline = deadlines.feedback, deadlines.completion
    ticket.deadline_estimated = deadlines.estimated
    if deadlines.estimated:
        known = policy.calendar.known_until
        log.warning(
            "tickets.deadline.estimated",
            extra={
                "ticket_no": ticket.ticket_no,
                "completion_deadline": deadlines.completion.isoformat(),
                "calendar_known_until": known.isoformat() if known else None,
            },
        )
    return deadlines


def due(ticket: Ticket) -> tuple[str, datetime] | None:
    """Which deadline the ticket's state is working towards: ('feedback'|'completion', when)."""
    if ticket.status in AWAITING_FEEDBACK:
        return "feedback", ticket.feedback_deadline
    if ticket.status in AWAITING_COMPLETION:
        return "completion", ticket.completion_deadline
    return None


def assess(ticket: Ticket, policy: SlaPolicy, now: datetime) -> str | None:
    """'overdue', 'at_risk' or None for the ticket's current deadline."""
    target = due(ticket)
    if target is None:
        return None
    _, deadline = target
    if now >= deadline:
        return "overdue"
    left = policy.left_fraction(ticket.received_at, deadline, now, urgent=ticket.urgency == "urgent")
    return "at_risk" if left < policy.at_risk_fraction else None


@dataclass
class SweepReport:
    checked: int = 0
    at_risk: list[str] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    recalendared: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "at_risk": self.at_risk,
            "overdue": self.overdue,
            "escalated": self.escalated,
            "recalendared": self.recalendared,
        }


def sweep(*, session: Session, policy: SlaPolicy, now: datetime) -> SweepReport:
    """Flag at-risk and overdue tickets; escalate (督办) each once per state and kind.

    The escalation, its audit entry and its outbox notification are written in the caller's
    transaction; the unique escalation row makes a second sweep (or a second sweeper) a no-op.
    """
    report = SweepReport()
    open_states = (*AWAITING_FEEDBACK, *AWAITING_COMPLETION)
    tickets = session.scalars(select(Ticket).where(Ticket.status.in_(open_states)).order_by(Ticket.id))
    for ticket in tickets:
        report.checked += 1
        if ticket.deadline_estimated and recalendar(session=session, ticket=ticket, policy=policy, now=now):
            report.recalendared.append(ticket.ticket_no)
        kind = assess(ticket, policy, now)
        if kind is None:
            continue
        (report.overdue if kind == "overdue" else report.at_risk).append(ticket.ticket_no)
        ticket.at_risk = kind == "at_risk"
        ticket.overdue = kind == "overdue"
        try:
            with session.begin_nested():
                session.add(Escalation(ticket_id=ticket.id, status=ticket.status, kind=kind, at=now))
        except IntegrityError:
            continue  # escalated in this state before
        _escalate(session=session, ticket=ticket, kind=kind, now=now)
        report.escalated.append(ticket.ticket_no)
    return report


def recalendar(*, session: Session, ticket: Ticket, policy: SlaPolicy, now: datetime) -> bool:
    """Recompute an estimated ticket's deadlines once the calendar knows their year (audited).

    False, and nothing changes, while they still lie after the known calendar.
    """
    fresh = policy.deadlines(ticket.received_at, urgent=ticket.urgency == "urgent")
    if fresh.estimated:
        return False
    changes: dict[str, Any] = {"deadline_estimated": [True, False]}
    for name, value in (("feedback_deadline", fresh.feedback), ("completion_deadline", fresh.completion)):
        if getattr(ticket, name) != value:
            changes[name] = [getattr(ticket, name).isoformat(), value.isoformat()]
    ticket.feedback_deadline, ticket.completion_deadline = fresh.feedback, fresh.completion
    ticket.deadline_estimated = False
    entry = AuditEntry(ticket_id=ticket.id, actor="sweeper", at=now, action="recalendar", changes=changes)
    session.add(entry)
    log.info("tickets.deadline.recalendared", extra={"ticket_no": ticket.ticket_no})
    return True


def _escalate(*, session: Session, ticket: Ticket, kind: str, now: datetime) -> None:
    ticket.escalation_level += 1
    ticket.supervision_count += 1
    target = due(ticket)
    assert target is not None
    phase, deadline = target
    session.add(
        AuditEntry(
            ticket_id=ticket.id,
            actor="sweeper",
            at=now,
            action="escalate",
            changes={
                "kind": kind,
                "status": ticket.status,
                "deadline": phase,
                "escalation_level": ticket.escalation_level,
            },
        )
    )
    session.add(
        Notification(
            key=f"escalation:{ticket.ticket_no}:s{STATES.index(ticket.status)}:{kind}",  # ASCII: a header
            event=f"ticket.{kind}",
            payload={
                "event": f"ticket.{kind}",
                "ticket_no": ticket.ticket_no,
                "status": ticket.status,
                "department": ticket.department,
                "urgency": ticket.urgency,
                "deadline_kind": phase,
                "deadline": deadline.isoformat(),
                "escalation_level": ticket.escalation_level,
                "supervision_count": ticket.supervision_count,
                "at": now.isoformat(),
            },
            created_at=now,
            next_attempt_at=now,
        )
    )


@dataclass(frozen=True)
class Rates:
    """按时反馈率 / 按时办结率 for tickets received in [start, end)."""

    received: int
    feedback_due: int
    feedback_on_time: int
    completion_due: int
    completion_on_time: int

    @property
    def feedback_rate(self) -> float | None:
        return self.feedback_on_time / self.feedback_due if self.feedback_due else None

    @property
    def completion_rate(self) -> float | None:
        return self.completion_on_time / self.completion_due if self.completion_due else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "feedback_due": self.feedback_due,
            "feedback_on_time": self.feedback_on_time,
            "on_time_feedback_rate": self.feedback_rate,
            "completion_due": self.completion_due,
            "completion_on_time": self.completion_on_time,
            "on_time_completion_rate": self.completion_rate,
        }


def rates(*, session: Session, start: datetime, end: datetime, now: datetime) -> Rates:
    """A ticket counts once its deadline has passed or it has been met; merged ones not at all."""
    base = (Ticket.received_at >= start, Ticket.received_at < end, Ticket.status != MERGED)

    def count(*conditions: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(Ticket).where(*base, *conditions)) or 0)

    return Rates(
        received=count(),
        feedback_due=count((Ticket.feedback_deadline <= now) | Ticket.feedback_at.is_not(None)),
        feedback_on_time=count(
            Ticket.feedback_at.is_not(None), Ticket.feedback_at <= Ticket.feedback_deadline
        ),
        completion_due=count((Ticket.completion_deadline <= now) | Ticket.completed_at.is_not(None)),
        completion_on_time=count(
            Ticket.completed_at.is_not(None), Ticket.completed_at <= Ticket.completion_deadline
        ),
    )
