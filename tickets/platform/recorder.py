"""Writing outbox rows in the ticket's own transaction: a `before_flush` hook on the ticket
sessions adds one row for each audited creation and state change, so the row commits or rolls
back with the ticket. Rows keep no personal data: no phone, and the citizen's words masked.
Installed explicitly (`TicketDesk.open` calls `attach`), never as a side
effect of building something else. The citizen's phone is never copied into a row.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from core.privacy import mask_personal
from core.settings import HotlinePlatformSettings
from tickets.db import TicketDB
from tickets.errors import TicketNotFoundError
from tickets.models import AuditEntry, Ticket
from tickets.platform.models import PlatformConsent, PlatformOutbox

CREATE = "create"
STATUS = "status"
# Audit actions that change a ticket's state (tickets/lifecycle.py TRANSITIONS).
STATUS_ACTIONS = frozenset(
    {"accept", "dispatch", "redispatch", "start", "return", "feedback", "complete", "callback", "merge"}
)


def attach(db: TicketDB, cfg: HotlinePlatformSettings) -> bool:
    """Record outbox rows on `db`'s sessions when the platform link is enabled; says whether."""
    if cfg.enabled:
        install(db.sessions, platform_actor=cfg.actor)
    return cfg.enabled


def install(sessions: sessionmaker[Session], *, platform_actor: str) -> None:
    """Make every session of `sessions` add an outbox row for each audited creation and state
    change it flushes. Changes made by the platform's own callbacks are not echoed back."""

    def before_flush(session: Session, _context: Any, _instances: Any) -> None:
        entries = [o for o in session.new if isinstance(o, AuditEntry)]
        with session.no_autoflush:
            for entry in entries:
                if entry.actor == platform_actor:
                    continue
                if entry.action != CREATE and entry.action not in STATUS_ACTIONS:
                    continue
                ticket = session.get(Ticket, entry.ticket_id)
                if ticket is not None:
                    session.add(outbox_row(ticket, entry))

    if not event.contains(sessions, "before_flush", before_flush):
        event.listen(sessions, "before_flush", before_flush)


def outbox_row(ticket: Ticket, entry: AuditEntry) -> PlatformOutbox:
    kind = CREATE if entry.action == CREATE else STATUS
    payload = ticket_payload(ticket) if kind == CREATE else status_payload(ticket, entry)
    return PlatformOutbox(
        key=uuid.uuid4().hex,
        ticket_id=ticket.id,
        ticket_no=ticket.ticket_no,
        kind=kind,
        payload=payload,
        created_at=entry.at,
        attempts=0,
        next_attempt_at=entry.at,
        failed=False,
    )


def citizen_words(ticket: Ticket, *, consent: bool) -> dict[str, str | None]:
    """The citizen's own words for the platform: in clear with their consent to share contact
    details, else with every phone, ID and card number masked (core/privacy.py), in any field."""

    def shown(text: str | None) -> str | None:
        return text if consent or text is None else mask_personal(text)

    return {
        "title": shown(ticket.title),
        "content": shown(ticket.content),
        "location": shown(ticket.location),
    }


def ticket_payload(ticket: Ticket) -> dict[str, Any]:
    """What the platform gets for a new ticket, as the outbox row keeps it: masked words and no
    phone (the push adds the phone and the clear words at send time, when consent exists)."""
    return {
        "ticket_no": ticket.ticket_no,
        "type": ticket.type,
        "category": "/".join(c for c in (ticket.category1, ticket.category2, ticket.category3) if c) or None,
        "department": ticket.department,
        **citizen_words(ticket, consent=False),
        "received_at": ticket.received_at.isoformat(),
        "feedback_deadline": ticket.feedback_deadline.isoformat(),
        "completion_deadline": ticket.completion_deadline.isoformat(),
        "urgency": ticket.urgency,
        "urgent_reason": ticket.urgent_reason,
    }


def status_payload(ticket: Ticket, entry: AuditEntry) -> dict[str, Any]:
    previous, current = (entry.changes.get("status") or [None, ticket.status])[:2]
    return {
        "ticket_no": ticket.ticket_no,
        "status": current,
        "previous_status": previous,
        "action": entry.action,
        "at": entry.at.isoformat(),
        "department": ticket.department,
        "note": _masked(entry.changes.get("note")),
        "satisfaction": entry.changes.get("satisfaction"),
    }


def _masked(text: Any) -> Any:
    """A staff note as pushed: it may quote the citizen, and the platform gets no number."""
    return mask_personal(text) if isinstance(text, str) else text


def record_consent(*, session: Session, ticket_no: str, actor: str, now: datetime) -> None:
    """Record that the citizen agreed to share their phone with the platform (idempotent)."""
    ticket = session.scalar(select(Ticket).where(Ticket.ticket_no == ticket_no))
    if ticket is None:
        raise TicketNotFoundError(ticket_no)
    if session.get(PlatformConsent, ticket.id) is None:
        session.add(PlatformConsent(ticket_id=ticket.id, actor=actor, at=now))
        session.add(
            AuditEntry(
                ticket_id=ticket.id, actor=actor, at=now, action="platform_consent", changes={"phone": True}
            )
        )
