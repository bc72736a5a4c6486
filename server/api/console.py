"""What the agent console needs beyond the ticket API: the desk's vocabulary (departments,
categories, states, who may take which step) and a ticket draft from a pasted call transcript.

Both are read-only; creating and moving tickets stays with /api/v1/tickets (tickets.intake). The
draft is built with the intake contract's own rules (the title a ticket gets when given none,
the phone normalisation), so what the agent confirms is what the ticket door accepts.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from nlu.message import ParsedMessage
from server.deps import Agent, CurrentPrincipal, Desk, Service
from tickets.lifecycle import TRANSITIONS
from tickets.schemas import first_sentence, normalize_phone
from tickets.states import OPEN, SATISFACTION, STATES, TYPES

router = APIRouter(prefix="/api/v1/console", tags=["console"])


class Step(BaseModel):
    source: str = Field(serialization_alias="from", description="State the step starts from")
    to: str
    action: str = Field(description="accept, dispatch, redispatch, start, return, feedback, ...")
    by: str = Field(description="'centre' (agent) or 'handler' (the ticket's department)")


class ConsoleMeta(BaseModel):
    user: dict[str, str | None]
    departments: list[str]
    categories: list[str]
    states: list[str]
    open_states: list[str]
    types: list[str]
    satisfaction: list[str]
    transitions: list[Step]
    at_risk_fraction: float


class DraftIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000, description="The question or call transcript")


class TicketDraft(BaseModel):
    """Pre-filled fields of a ticket form; the agent checks and completes them."""

    title: str
    content: str
    category: str | None
    category_confidence: float
    phone: str | None
    location: str | None
    urgent_keyword: str | None


def draft_from(parsed: ParsedMessage, text: str, *, urgent_keyword: str | None) -> TicketDraft:
    phone = None
    for entity in parsed.entities:
        if entity.entity == "phone":
            try:
                phone = normalize_phone(entity.value)
            except ValueError:  # 12345 and other service numbers are not the caller's
                continue
            break
    district = parsed.first("district")
    return TicketDraft(
        title=first_sentence(text),
        content=text.strip(),
        category=parsed.category,
        category_confidence=round(parsed.category_confidence, 3),
        phone=phone,
        location=district.value if district else None,
        urgent_keyword=urgent_keyword,
    )


@router.get("/meta", response_model=ConsoleMeta)
def console_meta(desk: Desk, principal: CurrentPrincipal) -> ConsoleMeta:
    """Who is logged in and the desk's vocabulary (any staff role)."""
    cfg = desk.settings.tickets
    departments = sorted({*cfg.routing.values(), cfg.default_department})
    return ConsoleMeta(
        user={"name": principal.name, "role": principal.role, "department": principal.department},
        departments=departments,
        categories=sorted(desk.taxonomy.level1),
        states=list(STATES),
        open_states=list(OPEN),
        types=list(TYPES),
        satisfaction=list(SATISFACTION),
        transitions=[
            Step(source=frm, to=to, action=step.action, by=step.by) for (frm, to), step in TRANSITIONS.items()
        ],
        at_risk_fraction=cfg.at_risk_fraction,
    )


@router.post("/draft", response_model=TicketDraft)
async def ticket_draft(data: DraftIn, service: Service, desk: Desk, _agent: Agent) -> TicketDraft:
    """A ticket form pre-filled from a pasted question or transcript (agents only)."""
    parsed = await service.run(lambda a: a.parse(data.text))
    return draft_from(parsed, data.text, urgent_keyword=desk.policy.urgent_keyword(data.text))
