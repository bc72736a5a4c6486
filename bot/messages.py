"""The two envelopes that pass between channels and the bot: one in, one out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Action = Literal["answer", "clarify", "ticket", "handoff", "smalltalk", "fallback", "ticket_status"]


class UserMessage(BaseModel):
    """A message from any channel (web, wechat, hotline, cli)."""

    text: str
    session_id: str = "default"
    channel: str = "cli"
    message_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Source(BaseModel):
    id: str
    title: str
    score: float


class Citation(BaseModel):
    """An item that backs an answer, as citizens see it: no internal id, no score."""

    title: str
    source: str | None = None
    department: str | None = None
    url: str | None = None
    sample: bool = False


class Option(BaseModel):
    id: str
    title: str


class BotReply(BaseModel):
    """The stable reply object (`govbot ask --json`, the chat API)."""

    action: Action
    intent: str
    reply: str
    sources: list[Source] = Field(
        default_factory=list, description="The ranked search hits, with ids and scores (agents, --json)"
    )
    citations: list[Citation] = Field(
        default_factory=list, description="Only the items that back the answer, for citizens"
    )
    options: list[Option] = Field(default_factory=list)
    category: str | None = None
    entities: list[dict[str, Any]] = Field(default_factory=list)
    latency_ms: float = 0.0
    item_id: str | None = Field(None, description="The item the answer is about")
    card: dict[str, Any] | None = Field(None, description="Cited fields, for answer cards")
    notices: list[str] = Field(default_factory=list)
    form: dict[str, Any] | None = Field(
        None, description="Ticket form in progress: {step, choices}; choices render as buttons"
    )
    ticket: dict[str, Any] | None = Field(
        None, description="The ticket created or looked up (no personal data)"
    )
    handoff: dict[str, Any] | None = Field(
        None,
        description="Live agent (转人工): {status: waiting|active|closed|no_agent|unavailable, conversation, "
        "token (the citizen's key to its event stream), ahead, offer_ticket, lines (agent lines not yet "
        "shown)}",
    )
