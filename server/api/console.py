"""What the agent console needs beyond the ticket API: who is logged in and this desk's
departments and categories (the shared vocabulary is `GET /api/v1/vocab`), and a ticket draft
from a pasted call transcript.

Both are read-only; creating and moving tickets stays with /api/v1/tickets (tickets.intake). The
draft is built with the intake contract's own rules (the title a ticket gets when given none,
the phone normalisation), so what the agent confirms is what the ticket door accepts.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from nlu.message import ParsedMessage
from server.deps import CanDraft, CanSeeConsole, Desk, Service
from tickets.schemas import first_sentence, normalize_phone

router = APIRouter(prefix="/api/v1/console", tags=["console"])


class ConsoleMeta(BaseModel):
    user: dict[str, str | None]
    departments: list[str]
    categories: list[str]
    at_risk_fraction: float
    refresh_seconds: float


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
def console_meta(desk: Desk, principal: CanSeeConsole) -> ConsoleMeta:
    """Who is logged in and this desk's departments and categories (any staff role)."""
    cfg = desk.settings.tickets
    departments = sorted({*cfg.routing.values(), cfg.default_department})
    return ConsoleMeta(
        user={"name": principal.name, "role": principal.role, "department": principal.department},
        departments=departments,
        categories=sorted(desk.taxonomy.level1),
        at_risk_fraction=cfg.at_risk_fraction,
        refresh_seconds=cfg.console_refresh_seconds,
    )


@router.post("/draft", response_model=TicketDraft)
async def ticket_draft(data: DraftIn, service: Service, desk: Desk, _agent: CanDraft) -> TicketDraft:
    """A ticket form pre-filled from a pasted question or transcript (agents only)."""
    parsed = await service.run(lambda a: a.parse(data.text))
    return draft_from(parsed, data.text, urgent_keyword=desk.policy.urgent_keyword(data.text))
