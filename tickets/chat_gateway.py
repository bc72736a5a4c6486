"""The SQL ticket desk behind the chat: creates tickets from the chat form, answers status
lookups by number + last four phone digits, and records a citizen's rating after closure.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core import vocab
from core.settings import Settings
from tickets.crud import status_for_citizen, ticket_numbers
from tickets.errors import TicketError, TicketNotFoundError
from tickets.intake import DeskUnavailableError, TicketReceipt, TicketRequest, TicketStatusView
from tickets.models import AuditEntry
from tickets.schemas import TicketCreate
from tickets.service import TicketDesk

# A chat rating of 1-5 in the hotline's three satisfaction grades.
_GRADES = {5: "满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "不满意"}
_CONSENT_NOTE = "（市民不同意将联系方式转交承办部门，请由热线工作人员联系。）"


class SqlTicketGateway:
    def __init__(self, desk: TicketDesk) -> None:
        self.desk = desk

    @classmethod
    def open(cls, settings: Settings) -> SqlTicketGateway:
        desk = TicketDesk.open(settings)
        desk.migrate()
        return cls(desk)

    def create(self, request: TicketRequest) -> TicketReceipt:
        content = request.content if request.contact_consent else f"{request.content}\n{_CONSENT_NOTE}"
        data = TicketCreate(
            title=request.title,
            content=content,
            location=request.location or None,
            phone=request.phone,
            name=request.name or None,
            type=request.ticket_type if request.ticket_type in vocab.TYPES else "投诉",  # type: ignore[arg-type]
            channel=request.channel if request.channel in vocab.CHANNELS else "api",  # type: ignore[arg-type]
        )
        try:
            ticket = self.desk.create(data, actor=request.creator, predicted_category=request.category)
            duplicate = None
            if ticket.duplicate_of_id:
                with self.desk.db.session() as s:
                    duplicate = ticket_numbers(session=s, ids={ticket.duplicate_of_id}).get(
                        ticket.duplicate_of_id
                    )
        except SQLAlchemyError as exc:
            raise DeskUnavailableError(f"ticket database: {type(exc).__name__}") from exc
        return TicketReceipt(
            ticket_no=ticket.ticket_no,
            status=ticket.status,
            feedback_deadline=ticket.feedback_deadline,
            duplicate_of=duplicate,
        )

    def status(self, ticket_no: str, phone_last4: str) -> TicketStatusView | None:
        try:
            with self.desk.db.session() as s:
                ticket = status_for_citizen(session=s, ticket_no=ticket_no, phone_last4=phone_last4)
                feedback = s.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.ticket_id == ticket.id, AuditEntry.action == "feedback")
                    .order_by(AuditEntry.id)
                )
                notes = [e.changes.get("note") for e in feedback if isinstance(e.changes, dict)]
                return TicketStatusView(
                    ticket_no=ticket.ticket_no,
                    status=ticket.status,
                    department=ticket.department,
                    feedback_deadline=ticket.feedback_deadline,
                    completion_deadline=ticket.completion_deadline,
                    reply=next((n for n in reversed(notes) if n), None),
                    closed=ticket.status in (vocab.COMPLETED, vocab.CALLED_BACK),
                    rated=ticket.satisfaction is not None,
                )
        except TicketNotFoundError:
            return None
        except SQLAlchemyError as exc:
            raise DeskUnavailableError(f"ticket database: {type(exc).__name__}") from exc

    def rate(self, ticket_no: str, phone_last4: str, score: int) -> bool:
        """Store the citizen's grade on a closed, unrated ticket, with an audit entry."""

        def job(s: Session) -> bool:
            ticket = status_for_citizen(session=s, ticket_no=ticket_no, phone_last4=phone_last4)
            if ticket.status not in (vocab.COMPLETED, vocab.CALLED_BACK) or ticket.satisfaction:
                return False
            ticket.satisfaction = _GRADES[score]
            s.add(
                AuditEntry(
                    ticket_id=ticket.id,
                    actor="citizen",
                    at=self.desk.clock(),
                    action="rate",
                    changes={"satisfaction": ticket.satisfaction, "score": score, "via": "chat"},
                )
            )
            return True

        try:
            return self.desk.db.run(job)
        except TicketError:
            return False
        except SQLAlchemyError as exc:
            raise DeskUnavailableError(f"ticket database: {type(exc).__name__}") from exc
