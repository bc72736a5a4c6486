"""Pydantic schemas of the ticket API: Create / Update / Public families, and the public status."""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.privacy import mask_personal, mask_phone
from core.vocab import STATES, Channel, Satisfaction, TicketType
from nlu.validators import is_valid_phone
from tickets.lifecycle import Viewer, is_assigned_handler
from tickets.models import Ticket

TITLE_MAX = 40
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")


def first_sentence(text: str, limit: int = TITLE_MAX) -> str:
    """The first sentence of `text` (without its closing mark), cut to `limit` characters: the
    title of a ticket that is given none, and of the console's draft."""
    stripped = text.strip()
    head = _SENTENCE_END.split(stripped, maxsplit=1)[0].strip() or stripped
    return head if len(head) <= limit else head[: limit - 1] + "…"


def normalize_phone(value: str) -> str:
    value = re.sub(r"[\s()]", "", value).removeprefix("+86")
    if not is_valid_phone(value):
        raise ValueError("not a valid mainland mobile (11 digits) or landline (0xx-xxxxxxx) number")
    return value


class TicketBase(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    title: str = Field(
        "",
        min_length=1,
        max_length=200,
        description="One line: what the matter is (default: content's first sentence)",
    )
    content: str = Field(min_length=1, max_length=4000, description="The citizen's account")
    location: str | None = Field(None, max_length=200, description="Where (address, place)")
    type: TicketType = Field("求助", description="咨询/求助/投诉/举报/建议/表扬")


class TicketCreate(TicketBase):
    phone: str = Field(description="Citizen's mobile or landline number")
    name: str | None = Field(None, max_length=64, description="Citizen's name (optional)")
    category: str | None = Field(
        None, max_length=100, description="12345 category, '一级/二级/三级'; predicted when absent"
    )
    channel: Channel = Field("api", description="Where the request came in")
    urgent: bool = Field(False, description="Marked urgent by an agent")
    urgent_reason: str | None = Field(None, max_length=200, description="Why it is urgent")
    department: str | None = Field(None, max_length=64, description="Agent override of the routing table")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalize_phone(value)

    @model_validator(mode="after")
    def _title(self) -> TicketCreate:
        if not self.title:
            self.title = first_sentence(self.content)
        return self


class TicketUpdate(BaseModel):
    """Corrections by the centre before dispatch; only the fields given change."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=200)
    content: str | None = Field(None, min_length=1, max_length=4000)
    location: str | None = Field(None, max_length=200)
    type: TicketType | None = None
    category: str | None = Field(None, max_length=100)
    urgent: bool | None = None
    urgent_reason: str | None = Field(None, max_length=200)


class TransitionIn(BaseModel):
    to: str = Field(description="Target state, e.g. 已受理")
    department: str | None = Field(None, max_length=64, description="For 交办 / 重新交办")
    note: str | None = Field(None, max_length=2000, description="Reason or result (退回 and 反馈 need one)")
    satisfaction: Satisfaction | None = Field(None, description="For 回访")
    callback_result: str | None = Field(None, max_length=2000, description="For 回访")
    merged_into: str | None = Field(None, max_length=20, description="For 合并: the ticket it duplicates")


class TicketPublic(BaseModel):
    """A ticket as staff see it. Who sees the citizen's numbers follows one rule: the handler of
    the ticket's department (who calls the citizen back) sees the phone, and the numbers typed
    into the title and content, in clear; everyone else (the centre's agents and supervisors,
    other departments) sees all of them masked (core/privacy.py), as they need none to route."""

    ticket_no: str
    status: str
    channel: str
    created_by: str
    citizen_name: str | None
    phone: str
    title: str
    content: str
    location: str | None
    type: str
    category1: str | None
    category2: str | None
    category3: str | None
    department: str | None
    assignee: str | None
    urgency: str
    urgent_reason: str | None
    received_at: datetime
    feedback_deadline: datetime
    completion_deadline: datetime
    deadline_estimated: bool  # after the known official calendar: counted on weekdays only
    feedback_at: datetime | None
    completed_at: datetime | None
    satisfaction: str | None
    callback_result: str | None
    duplicate_of: str | None
    merged_into: str | None
    escalation_level: int
    supervision_count: int
    at_risk: bool
    overdue: bool

    @classmethod
    def of(cls, ticket: Ticket, viewer: Viewer, numbers: dict[int, str] | None = None) -> TicketPublic:
        numbers = numbers or {}
        clear = is_assigned_handler(viewer, ticket)
        shown = (lambda text: text) if clear else mask_personal
        return cls(
            **{name: getattr(ticket, name) for name in cls.model_fields if hasattr(Ticket, name)}
            | {
                "phone": ticket.phone if clear else mask_phone(ticket.phone),
                "title": shown(ticket.title),
                "content": shown(ticket.content),
                "duplicate_of": numbers.get(ticket.duplicate_of_id or 0),
                "merged_into": numbers.get(ticket.merged_into_id or 0),
            }
        )


class TicketSummary(BaseModel):
    ticket_no: str
    status: str
    title: str
    category1: str | None
    department: str | None
    assignee: str | None
    duplicate_of: str | None = None  # the open ticket this one looks like (a merge candidate)
    urgency: str
    received_at: datetime
    feedback_deadline: datetime
    completion_deadline: datetime
    deadline_estimated: bool
    at_risk: bool
    overdue: bool


class TicketSearch(BaseModel):
    """The desk's search: each given criterion must hold. `q` is what an agent types in one box:
    a ticket number (or its start), a phone's last digits, or words; it fills the field it reads
    as (see `interpreted`)."""

    q: str = Field("", max_length=100, description="ticket number, phone digits or words")
    ticket_no: str = Field("", max_length=20, description="a ticket number or its beginning")
    phone: str = Field("", pattern=r"^\d{0,20}$", description="the phone's last digits (4 or more)")
    words: str = Field("", max_length=100, description="words in title, content or place (all of them)")
    date_from: date | None = Field(None, description="received on or after this local day")
    date_to: date | None = Field(None, description="received on or before this local day")
    department: str = Field("", max_length=64)
    status: list[str] = Field(default_factory=list, description="any of these states")
    queue: str = Field(
        "",
        description="a view: mine, department, at_risk, overdue, open, "
        "awaiting_callback (待回访), closed (已办结), all",
    )

    @field_validator("status")
    @classmethod
    def _known_states(cls, value: list[str]) -> list[str]:
        unknown = set(value) - set(STATES)
        if unknown:
            raise ValueError(f"unknown state {sorted(unknown)}; one of {', '.join(STATES)}")
        return value

    def interpreted(self) -> TicketSearch:
        """`q` moved to the field it reads as: 20261202-0042 / 20261202 → number, 4-11 digits →
        phone suffix, anything else → words."""
        text = self.q.strip()
        if not text:
            return self
        if re.fullmatch(r"\d{8}-\d{0,4}|\d{8}|\d{12}", text):
            number = f"{text[:8]}-{text[8:]}" if len(text) == 12 else text
            return self.model_copy(update={"q": "", "ticket_no": number})
        if re.fullmatch(r"\d{4,11}", text):
            return self.model_copy(update={"q": "", "phone": text})
        return self.model_copy(update={"q": "", "words": f"{self.words} {text}".strip()})


class StatusQuery(BaseModel):
    ticket_no: str = Field(min_length=1, max_length=20)
    phone_last4: str = Field(pattern=r"^\d{4}$", description="Last four digits of the phone given")


class TicketStatusPublic(BaseModel):
    """What a citizen may learn with number + last four digits: no personal data."""

    ticket_no: str
    status: str
    received_at: datetime
    feedback_deadline: datetime
    completion_deadline: datetime
    feedback_at: datetime | None
    completed_at: datetime | None


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    role: str
    department: str | None
