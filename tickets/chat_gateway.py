"""The SQL ticket desk behind the chat: files the chat form through `intake`, answers status
look-ups by number + last four phone digits, and records a citizen's rating after closure.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from core import vocab
from core.settings import Settings
from tickets.crud import latest_feedback_note, rate_by_citizen, status_for_citizen
from tickets.errors import TicketError, TicketNotFoundError
from tickets.intake import DeskUnavailableError, TicketReceipt, TicketRequest, TicketStatusView, intake
from tickets.service import TicketDesk

# A chat rating of 1-5 in the hotline's three satisfaction grades.
_GRADES = {5: "满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "不满意"}
_CONSENT_NOTE = "（市民不同意将联系方式转交承办部门，请由热线工作人员联系。）"

# Conversation doors whose own name is not a ticket channel, and the channel their tickets are
# filed under: the Rasa REST door is Rasa, the terminal (`govbot chat`) files as the API does.
# Every other channel goes to `intake` as it is, and one outside core.vocab.CHANNELS is refused.
DOOR_CHANNELS = {"rest": "rasa", "cli": "api"}


def ticket_fields(request: TicketRequest) -> dict[str, Any]:
    """The chat form as the intake contract's fields (the category is a prediction, passed apart)."""
    content = request.content if request.contact_consent else f"{request.content}\n{_CONSENT_NOTE}"
    return {
        "title": request.title,
        "content": content,
        "location": request.location or None,
        "phone": request.phone,
        "name": request.name or None,
        "type": request.ticket_type,
        "channel": DOOR_CHANNELS.get(request.channel, request.channel),
    }


def _intake_key(session_key: str | None) -> str | None:
    """A fixed-length key for `intake_keys` (the session key itself may be long)."""
    return hashlib.sha256(session_key.encode()).hexdigest() if session_key else None


class SqlTicketGateway:
    def __init__(self, desk: TicketDesk) -> None:
        self.desk = desk

    @classmethod
    def open(cls, settings: Settings) -> SqlTicketGateway:
        desk = TicketDesk.open(settings)
        desk.migrate()
        return cls(desk)

    def create(self, request: TicketRequest) -> TicketReceipt:
        """The chat door of `intake`; TicketRefusedError passes through (the server answers 422)."""
        try:
            return intake(
                self.desk,
                ticket_fields(request),
                actor=request.creator,
                predicted_category=request.category,
                intake_key=_intake_key(request.session_key),
            )
        except SQLAlchemyError as exc:
            raise DeskUnavailableError(f"ticket database: {type(exc).__name__}") from exc

    def status(self, ticket_no: str, phone_last4: str) -> TicketStatusView | None:
        """The view for a right number + last 4, None for a wrong one; RateLimitedError while the
        ticket number is locked out after repeated misses (counted across sessions and workers)."""

        def lookup() -> TicketStatusView:
            with self.desk.db.session() as s:
                ticket = status_for_citizen(session=s, ticket_no=ticket_no, phone_last4=phone_last4)
                return TicketStatusView(
                    ticket_no=ticket.ticket_no,
                    status=ticket.status,
                    department=ticket.department,
                    feedback_deadline=ticket.feedback_deadline,
                    completion_deadline=ticket.completion_deadline,
                    reply=latest_feedback_note(session=s, ticket=ticket),
                    closed=ticket.status in (vocab.COMPLETED, vocab.CALLED_BACK),
                    rated=ticket.satisfaction is not None,
                )

        try:
            return self.desk.guard_status(ticket_no, None, lookup)
        except TicketNotFoundError:
            return None
        except SQLAlchemyError as exc:
            raise DeskUnavailableError(f"ticket database: {type(exc).__name__}") from exc

    def rate(self, ticket_no: str, phone_last4: str, score: int) -> bool:
        """Store the citizen's grade on a closed, unrated ticket, with an audit entry."""
        try:
            return self.desk.db.run(
                lambda s: rate_by_citizen(
                    session=s,
                    ticket_no=ticket_no,
                    phone_last4=phone_last4,
                    satisfaction=_GRADES[score],
                    score=score,
                    via="chat",
                    now=self.desk.clock(),
                )
            )
        except TicketError:
            return False
        except SQLAlchemyError as exc:
            raise DeskUnavailableError(f"ticket database: {type(exc).__name__}") from exc
