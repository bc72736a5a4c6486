"""12345 tickets over HTTP: create (through tickets.intake, for agents, the console and the Rasa
action), read, move, queues, and the citizens' status look-up.
Data functions raise domain errors; `ticket_error_response` maps them.
"""

from __future__ import annotations

import logging
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from bot.assistant import NotPreparedError
from nlu.intents import ModelMissingError
from server import limits
from server.deps import (
    CanCreateTicket,
    CanListTickets,
    CanMoveTicket,
    CanReadTicket,
    CanUpdateTicket,
    Desk,
    Service,
)
from server.inputs import Position
from tickets.errors import (
    AuthenticationError,
    DuplicateUserError,
    IllegalTransitionError,
    InvalidTicketError,
    PermissionDeniedError,
    TicketError,
    TicketNotFoundError,
)
from tickets.intake import TicketReceipt, intake
from tickets.lifecycle import TransitionRequest
from tickets.schemas import (
    StatusQuery,
    TicketCreate,
    TicketPublic,
    TicketSearch,
    TicketStatusPublic,
    TicketSummary,
    TicketUpdate,
    TransitionIn,
)

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])
log = logging.getLogger(__name__)

_STATUS_CODES: list[tuple[type[TicketError], int]] = [
    (TicketNotFoundError, status.HTTP_404_NOT_FOUND),
    (IllegalTransitionError, status.HTTP_409_CONFLICT),
    (DuplicateUserError, status.HTTP_409_CONFLICT),
    (PermissionDeniedError, status.HTTP_403_FORBIDDEN),
    (InvalidTicketError, 422),
    (AuthenticationError, status.HTTP_401_UNAUTHORIZED),
]


async def ticket_error_response(_request: Request, exc: Exception) -> JSONResponse:
    """Domain errors of the ticket layer as HTTP answers (registered by the app factory)."""
    code = next((c for kind, c in _STATUS_CODES if isinstance(exc, kind)), status.HTTP_400_BAD_REQUEST)
    body: dict[str, object] = {"detail": str(exc)}
    if isinstance(exc, IllegalTransitionError):
        body.update(current=exc.current, target=exc.target, allowed=exc.allowed)
    return JSONResponse(body, status_code=code)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TicketReceipt)
async def create_ticket(
    data: TicketCreate, desk: Desk, service: Service, agent: CanCreateTicket
) -> TicketReceipt:
    """Open a ticket through `intake` (the console and the Rasa action use this door). Without
    `category` the engine predicts one; an unknown `channel` or a bad field is refused with 422."""
    predicted = None
    if data.category is None:
        try:
            parsed = await service.run(lambda a: a.parse(f"{data.title}。{data.content}"))
            predicted = parsed.category
        except (NotPreparedError, ModelMissingError) as exc:  # the ticket matters more than its category
            log.warning("tickets.category.unavailable", extra={"error": str(exc)})
    return await anyio.to_thread.run_sync(
        lambda: intake(desk, data, actor=agent.name, predicted_category=predicted)
    )


@router.get("", response_model=list[TicketSummary])
def list_tickets(
    desk: Desk,
    principal: CanListTickets,
    queue: str = Query(
        "open", description="mine | department | at_risk | overdue | open | awaiting_callback | closed | all"
    ),
    limit: int = Query(100, ge=1, le=500),
    offset: Position = 0,
) -> list[TicketSummary]:
    """A work queue; handlers only ever see their department's tickets."""
    return desk.queue(viewer=principal, queue=queue, limit=limit, offset=offset)


@router.get("/search", response_model=list[TicketSummary])
def search_tickets(
    desk: Desk,
    principal: CanListTickets,
    search: Annotated[TicketSearch, Query()],
    limit: int = Query(50, ge=1, le=500),
    offset: Position = 0,
) -> list[TicketSummary]:
    """Find tickets by number, phone's last digits, words, local date range, department, state
    or view (`q` reads as whichever it looks like); newest first, within what you may see."""
    return desk.search(search, viewer=principal, limit=limit, offset=offset)


@router.post("/status", response_model=TicketStatusPublic)
def citizen_status(query: StatusQuery, desk: Desk, request: Request) -> TicketStatusPublic:
    """Public: status and deadlines for a ticket number plus the phone's last four digits.
    A few wrong answers lock the ticket number and the client out (429), across sessions."""
    limiter: limits.RateLimiter = request.app.state.limiter
    client = request.client.host if request.client else "unknown"
    wait = limiter.hit(f"ticket-status:{client}", request.app.state.settings.tickets.status_rate_per_ip)
    if wait:
        raise limits.RateLimitedError("address", wait)
    return desk.citizen_status(query.ticket_no, query.phone_last4, client=client)


@router.get("/{ticket_no}")
def show_ticket(ticket_no: str, desk: Desk, principal: CanReadTicket) -> dict[str, object]:
    """One ticket with its audit trail (phone masked unless you handle it) and, for a ticket made
    from a live chat, that chat's transcript (numbers masked)."""
    view = desk.show(ticket_no, viewer=principal)
    return {**view.ticket.model_dump(mode="json"), "audit": view.audit, "transcript": view.transcript}


@router.patch("/{ticket_no}", response_model=TicketPublic)
def update_ticket(ticket_no: str, data: TicketUpdate, desk: Desk, principal: CanUpdateTicket) -> TicketPublic:
    """Correct a ticket before dispatch (centre only); a field sent as null is refused (422)."""
    nulls = sorted(name for name in data.model_fields_set if getattr(data, name) is None)
    if nulls:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body", n), "msg": "may not be null", "input": None} for n in nulls]
        )
    return desk.update(ticket_no, data, viewer=principal)


@router.post("/{ticket_no}/transitions", response_model=TicketPublic)
def move_ticket(ticket_no: str, step: TransitionIn, desk: Desk, principal: CanMoveTicket) -> TicketPublic:
    """Move the ticket through its lifecycle (409 with the allowed states when illegal)."""
    request = TransitionRequest(**step.model_dump())
    return desk.transition(ticket_no, request, viewer=principal)
