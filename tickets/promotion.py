"""Closing the loop: what a closed ticket offers to the knowledge base (question and official reply).

The data side only: `promotion_source` reads the ticket and its reply (the note of its latest
反馈 step) and refuses tickets that are not closed or have no reply. Writing the FAQ and
indexing it is jobs.promotion's job.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.vocab import CALLED_BACK, COMPLETED
from tickets.crud import get_ticket
from tickets.errors import TicketError
from tickets.lifecycle import Viewer
from tickets.models import AuditEntry

CLOSED = (COMPLETED, CALLED_BACK)


class PromotionRefusedError(TicketError):
    """The ticket cannot become an FAQ (not closed, or no official reply)."""


@dataclass(frozen=True)
class PromotionSource:
    ticket_no: str
    title: str
    content: str
    reply: str
    category: str | None


def ticket_reply(*, session: Session, ticket_id: int) -> str | None:
    """The official reply: the note of the ticket's latest 反馈 (feedback) step."""
    notes = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.ticket_id == ticket_id, AuditEntry.action == "feedback")
        .order_by(AuditEntry.id.desc())
    )
    for entry in notes:
        note = (entry.changes or {}).get("note")
        if isinstance(note, str) and note.strip():
            return note.strip()
    return None


def promotion_source(*, session: Session, ticket_no: str, viewer: Viewer) -> PromotionSource:
    """The closed ticket's question and reply; PromotionRefusedError otherwise."""
    ticket = get_ticket(session=session, ticket_no=ticket_no, viewer=viewer)
    if ticket.status not in CLOSED:
        raise PromotionRefusedError(
            f"{ticket_no} is {ticket.status}; only closed tickets ({'、'.join(CLOSED)}) become FAQs"
        )
    reply = ticket_reply(session=session, ticket_id=ticket.id)
    if not reply:
        raise PromotionRefusedError(f"{ticket_no} has no official reply (反馈) to promote")
    category = "/".join(c for c in (ticket.category1, ticket.category2, ticket.category3) if c) or None
    return PromotionSource(ticket.ticket_no, ticket.title, ticket.content, reply, category)
