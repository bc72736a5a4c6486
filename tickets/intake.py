"""The one contract through which a ticket enters the desk from outside the desk itself.

The chat form, the HTTP API, the agent console and the Rasa action all describe a citizen's
matter with these models; the desk answers with a receipt.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class TicketRequest(BaseModel):
    """A citizen's matter as collected in chat, ready to become a ticket."""

    title: str
    content: str
    location: str = ""
    phone: str
    name: str = ""
    contact_consent: bool = True
    category: str | None = None
    ticket_type: str = "投诉"
    channel: str = "web"
    creator: str = "bot"
    session_key: str = Field("", description="Where it came from, for de-duplicating re-deliveries")


class TicketReceipt(BaseModel):
    ticket_no: str
    status: str
    feedback_deadline: datetime
    duplicate_of: str | None = None


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
