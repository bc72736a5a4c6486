"""The platform's status reports: applied through the ticket lifecycle under the platform's
name, once per event id (a repeat is answered with what was applied, not applied again)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickets.errors import TicketNotFoundError
from tickets.lifecycle import TransitionRequest, transition
from tickets.models import Ticket
from tickets.platform.models import PlatformCallback


@dataclass(frozen=True)
class PlatformActor:
    """The platform acts with the centre's full rights, under its own name in the audit trail."""

    name: str
    role: str = "supervisor"
    department: str | None = None


@dataclass(frozen=True)
class StatusReport:
    event_id: str
    ticket_no: str
    status: str  # one of our states (core/vocab.py)
    note: str | None = None
    department: str | None = None
    satisfaction: str | None = None


def apply_status_report(
    *, session: Session, report: StatusReport, actor: PlatformActor, now: datetime
) -> dict[str, Any]:
    """Apply a status report through the lifecycle (which writes the audit entry), once per
    event id. Raises TicketNotFoundError or IllegalTransitionError, leaving nothing behind."""
    ticket = session.scalar(select(Ticket).where(Ticket.ticket_no == report.ticket_no).with_for_update())
    seen = seen_event(session=session, event_id=report.event_id)
    if seen is not None:
        return seen
    if ticket is None:
        raise TicketNotFoundError(report.ticket_no)
    request = TransitionRequest(
        to=report.status,
        department=report.department,
        note=report.note,
        satisfaction=report.satisfaction,
        callback_result=report.note,
        context={"platform_event": report.event_id},
    )
    transition(session=session, ticket=ticket, request=request, viewer=actor, now=now)
    session.add(
        PlatformCallback(
            event_id=report.event_id, ticket_no=ticket.ticket_no, status=ticket.status, received_at=now
        )
    )
    return {
        "event_id": report.event_id,
        "ticket_no": ticket.ticket_no,
        "status": ticket.status,
        "duplicate": False,
    }


def seen_event(*, session: Session, event_id: str) -> dict[str, Any] | None:
    seen = session.scalar(select(PlatformCallback).where(PlatformCallback.event_id == event_id))
    if seen is None:
        return None
    return {"event_id": seen.event_id, "ticket_no": seen.ticket_no, "status": seen.status, "duplicate": True}
