"""Internal notes on a ticket: what staff tell each other while working it (a call made, a
promise to check back). Never part of anything a citizen reads: the citizen status, the chat
replies and the 12345 platform payloads are built from other columns.

Each note also writes a `note` audit entry (who, when, which note), so the trail shows that
something was said without copying the text into every place the trail goes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.crypto import Sealed
from core.sqltypes import UTCDateTime
from tickets.crud import get_ticket
from tickets.errors import InvalidTicketError
from tickets.lifecycle import Viewer
from tickets.models import AuditEntry, Base

NOTE_MAX = 2000


class TicketNote(Base):
    __tablename__ = "ticket_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Sealed())  # staff may quote the citizen: sealed at rest


def add_note(*, session: Session, ticket_no: str, text: str, viewer: Viewer, now: datetime) -> TicketNote:
    """Store a note on a ticket the viewer may see (audited)."""
    body = text.strip()
    if not body or len(body) > NOTE_MAX:
        raise InvalidTicketError(f"a note needs 1 to {NOTE_MAX} characters")
    ticket = get_ticket(session=session, ticket_no=ticket_no, viewer=viewer)
    note = TicketNote(ticket_id=ticket.id, author=viewer.name, at=now, text=body)
    session.add(note)
    session.flush()
    session.add(
        AuditEntry(
            ticket_id=ticket.id, actor=viewer.name, at=now, action="note", changes={"note_id": note.id}
        )
    )
    return note


def ticket_notes(*, session: Session, ticket_no: str, viewer: Viewer) -> list[TicketNote]:
    """The notes of a ticket the viewer may see, oldest first."""
    ticket = get_ticket(session=session, ticket_no=ticket_no, viewer=viewer)
    query = select(TicketNote).where(TicketNote.ticket_id == ticket.id).order_by(TicketNote.id)
    return list(session.scalars(query))
