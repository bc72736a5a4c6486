"""The desk's own ticket routes: internal notes and assignment (the ticket itself, its queues
and search stay in server/api/tickets.py). Staff only; a handler only on their department's
tickets (the ticket layer finds no other)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from core.vocab import ROLE_LABELS
from server.deps import CanAssign, CanNote, Desk
from tickets.notes import NOTE_MAX
from tickets.schemas import TicketPublic

router = APIRouter(prefix="/api/v1/tickets", tags=["desk"])


class NoteIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    text: str = Field(
        min_length=1, max_length=NOTE_MAX, description="What staff should know; never shown to citizens"
    )


class NoteOut(BaseModel):
    id: int
    author: str
    at: datetime
    text: str


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(None, max_length=64, description="A username; null gives it to nobody")


class Assignable(BaseModel):
    username: str
    role: str
    role_label: str
    department: str | None


@router.get("/{ticket_no}/notes", response_model=list[NoteOut])
def list_notes(ticket_no: str, desk: Desk, principal: CanNote) -> list[NoteOut]:
    """The ticket's internal notes, oldest first."""
    return [NoteOut.model_validate(n, from_attributes=True) for n in desk.notes(ticket_no, viewer=principal)]


@router.post("/{ticket_no}/notes", response_model=NoteOut, status_code=status.HTTP_201_CREATED)
def post_note(ticket_no: str, data: NoteIn, desk: Desk, principal: CanNote) -> NoteOut:
    """Add an internal note (audited as 内部备注)."""
    return NoteOut.model_validate(desk.add_note(ticket_no, data.text, viewer=principal), from_attributes=True)


@router.post("/{ticket_no}/assign", response_model=TicketPublic)
def assign(ticket_no: str, data: AssignIn, desk: Desk, principal: CanAssign) -> TicketPublic:
    """Give the ticket to a colleague (or take it: your own username); audited as 指派."""
    return desk.assign(ticket_no, data.assignee, viewer=principal)


@router.get("/{ticket_no}/assignable", response_model=list[Assignable])
def assignable(ticket_no: str, desk: Desk, principal: CanAssign) -> list[Assignable]:
    """Who this ticket may be given to, for the assignment menu."""
    return [
        Assignable(username=name, role=role, role_label=ROLE_LABELS.get(role, role), department=department)
        for name, role, department in desk.assignable(ticket_no, viewer=principal)
    ]
