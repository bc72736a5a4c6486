"""`GET /api/v1/vocab`: the shared vocabulary (core/vocab.py) for the console and the widget.

Public and the same for every caller (no secrets, nothing per deployment), so browsers and
proxies may cache it; the JavaScript reads channels, roles, states, steps and labels from here
instead of keeping its own copies.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from core import vocab

router = APIRouter(prefix="/api/v1", tags=["vocabulary"])

CACHE_SECONDS = 300
"""How long a browser may reuse the answer; it changes only with a new release."""


class Transition(BaseModel):
    source: str = Field(serialization_alias="from", description="State the step starts from")
    to: str
    action: str = Field(description="accept, dispatch, redispatch, start, return, feedback, ...")
    by: str = Field(description="'centre' (the 12345 centre) or 'handler' (the ticket's department)")


class Vocabulary(BaseModel):
    channels: dict[str, str] = Field(description="Channel name → label, the names a client may send")
    roles: dict[str, str] = Field(description="Staff role → label, least trusted first")
    step_roles: dict[str, list[str]] = Field(
        description="'centre' / 'handler' → the roles taking those steps"
    )
    overseer_roles: list[str] = Field(description="Roles that may take every step")
    ticket_types: list[str]
    default_ticket_type: str
    states: list[str]
    open_states: list[str]
    awaiting_feedback: list[str] = Field(description="States whose clock runs to the feedback deadline")
    awaiting_completion: list[str] = Field(description="States whose clock runs to the completion deadline")
    transitions: list[Transition]
    satisfaction: list[str]
    step_labels: dict[str, str]
    audit_labels: dict[str, str]
    staff_action_labels: dict[str, str] = Field(description="Staff actions log (administration) → label")
    urgency_labels: dict[str, str]
    queue_labels: dict[str, str]
    ticket_fields: dict[str, str] = Field(description="Ticket field → label, in display order")
    card_fields: dict[str, str] = Field(description="Service-guide field → label, in display order")
    item_text_labels: dict[str, str] = Field(description="FAQ answer / policy text → label")
    item_kinds: dict[str, str]


def vocabulary() -> Vocabulary:
    return Vocabulary(
        channels=dict(vocab.CHANNEL_LABELS),
        roles=dict(vocab.ROLE_LABELS),
        step_roles={side: list(roles) for side, roles in vocab.STEP_ROLES.items()},
        overseer_roles=list(vocab.OVERSEER_ROLES),
        ticket_types=list(vocab.TYPES),
        default_ticket_type=vocab.DEFAULT_TYPE,
        states=list(vocab.STATES),
        open_states=list(vocab.OPEN),
        awaiting_feedback=list(vocab.AWAITING_FEEDBACK),
        awaiting_completion=list(vocab.AWAITING_COMPLETION),
        transitions=[
            Transition(source=frm, to=to, action=step.action, by=step.by)
            for (frm, to), step in vocab.TRANSITIONS.items()
        ],
        satisfaction=list(vocab.SATISFACTION),
        step_labels=dict(vocab.STEP_LABELS),
        audit_labels=dict(vocab.AUDIT_LABELS),
        staff_action_labels=dict(vocab.STAFF_ACTION_LABELS),
        urgency_labels=dict(vocab.URGENCY_LABELS),
        queue_labels=dict(vocab.QUEUE_LABELS),
        ticket_fields=dict(vocab.TICKET_FIELD_LABELS),
        card_fields=dict(vocab.GUIDE_FIELD_LABELS),
        item_text_labels=dict(vocab.ITEM_TEXT_LABELS),
        item_kinds=dict(vocab.ITEM_KIND_LABELS),
    )


_VOCABULARY = vocabulary()


@router.get("/vocab", response_model=Vocabulary)
def get_vocabulary(response: Response) -> Vocabulary:
    """Channels, roles, ticket types, states, steps and the labels the console and widget show."""
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return _VOCABULARY
