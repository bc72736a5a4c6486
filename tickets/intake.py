"""The one way a ticket enters the desk, and the contract every door speaks.

`intake` validates a request against `TicketCreate` (the ticket API's body), creates the ticket
with its `create` audit entry in one transaction, and answers with a `TicketReceipt`. The doors:
the chat form (tickets/chat_gateway.py), `POST /api/v1/tickets` (which the agent console and the
Rasa action server use) and `govbot tickets create`. A request the contract refuses (an unknown
channel, a bad phone number ...) raises `TicketRefusedError`, which the API answers with 422 and
the reasons; nothing is rewritten to make it fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from tickets.crud import ticket_numbers
from tickets.errors import InvalidTicketError
from tickets.schemas import TicketCreate
from tickets.service import TicketDesk


class TicketRequest(BaseModel):
    """A citizen's matter as collected by the chat form; the chat gateway turns it into the
    contract (`TicketCreate`), with `category` as the engine's prediction, not a given one."""

    title: str
    content: str
    location: str = ""
    phone: str
    name: str = ""
    contact_consent: bool = True
    category: str | None = None
    ticket_type: str = "投诉"
    channel: str = Field("web", description="The conversation's channel (the door it came through)")
    creator: str = "bot"
    session_key: str | None = Field(
        None, description="Session and form: a retried submission with this key gets the first ticket"
    )


class TicketReceipt(BaseModel):
    """What every door gets back for a new ticket (`POST /api/v1/tickets` answers exactly this)."""

    ticket_no: str
    status: str
    urgency: str
    category: str | None = Field(description="'一级/二级/三级' as stored (given or predicted)")
    department: str | None
    received_at: datetime
    feedback_deadline: datetime
    completion_deadline: datetime
    duplicate_of: str | None = Field(None, description="An open ticket this one may duplicate")


class TicketStatusView(BaseModel):
    """What a citizen may see about their own ticket: no personal data."""

    ticket_no: str
    status: str
    department: str | None = None
    feedback_deadline: datetime | None = None
    completion_deadline: datetime | None = None
    reply: str | None = Field(None, description="The handling department's feedback, once given")
    closed: bool = False
    rated: bool = False


class DeskUnavailableError(RuntimeError):
    """The ticket store cannot be reached; the dialogue keeps the form and says so."""


class TicketRefusedError(InvalidTicketError):
    """The request breaks the contract; the message names each field and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("ticket refused: " + "; ".join(problems))
        self.problems = problems


def validate(data: TicketCreate | Mapping[str, Any]) -> TicketCreate:
    """`data` as the contract, or TicketRefusedError with one reason per bad field."""
    if isinstance(data, TicketCreate):
        return data
    try:
        return TicketCreate.model_validate(data)
    except ValidationError as exc:
        raise TicketRefusedError(
            [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        ) from None


def intake(
    desk: TicketDesk,
    data: TicketCreate | Mapping[str, Any],
    *,
    actor: str,
    predicted_category: str | None = None,
    intake_key: str | None = None,
    transcript: list[dict[str, Any]] | None = None,
) -> TicketReceipt:
    """Validate, create (audited in the same transaction by crud), and answer with the receipt.

    `predicted_category` is the engine's guess, used only when `data` names no category and
    marked as predicted in the audit entry. With `intake_key`, a retry (after a crash, a lost
    reply) answers with the receipt of the ticket the first call stored. Raises
    TicketRefusedError (or InvalidTicketError for a category outside the taxonomy or a
    department outside the routing table) and lets database errors through to the door.
    `transcript` (a live chat's lines) is stored with the ticket, in its transaction.
    """
    ticket = desk.create(
        validate(data),
        actor=actor,
        predicted_category=predicted_category,
        intake_key=intake_key,
        transcript=transcript,
    )
    duplicate = None
    if ticket.duplicate_of_id:
        with desk.db.session() as session:
            duplicate = ticket_numbers(session=session, ids={ticket.duplicate_of_id}).get(
                ticket.duplicate_of_id
            )
    return TicketReceipt(
        ticket_no=ticket.ticket_no,
        status=ticket.status,
        urgency=ticket.urgency,
        category="/".join(c for c in (ticket.category1, ticket.category2, ticket.category3) if c) or None,
        department=ticket.department,
        received_at=ticket.received_at,
        feedback_deadline=ticket.feedback_deadline,
        completion_deadline=ticket.completion_deadline,
        duplicate_of=duplicate,
    )
