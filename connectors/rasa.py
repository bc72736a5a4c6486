"""The Rasa REST door: `POST /webhooks/rest/webhook`, so Rasa web-chat clients work unchanged.

Request and reply follow Rasa's RestInput channel: the client posts
`{"sender": ..., "message": ..., "metadata": {...}}` and gets back a JSON list of
bot messages, each `{"recipient_id": sender, "text": ...}`, with `buttons`
(`[{"title", "payload"}]`) for a clarify question and, when enabled, a second
message carrying the answer card as Rasa's `custom` payload.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator

from bot.messages import BotReply, UserMessage
from connectors.base import Channel, ChannelRuntime, OnMessage, session_key
from core.channel_settings import RestChannelConfig

log = logging.getLogger(__name__)

DEFAULT_SENDER = "default"  # Rasa's sender id when a client sends none
_SENDER_MAX = 128
_ORDINAL_CHOICES = 5  # the policy reads "1".."5" as a choice among the options shown


class RestRequest(BaseModel):
    sender: str | int | None = Field(None, description="The user's id; Rasa calls it sender_id")
    message: str = Field(description="What the user typed, or a button payload")
    metadata: dict[str, Any] | None = Field(None, description="Passed through to the bot untouched")

    @field_validator("sender")
    @classmethod
    def _sender_as_text(cls, value: str | int | None) -> str | None:
        if value is None:
            return None
        text = str(value)
        if not text:
            raise ValueError("sender may not be empty")
        return text


def sender_key(sender: str) -> str:
    """Rasa's sender ids are free text; a long one keys the session by its SHA-256, so a reply
    (and Rasa's call) never fails on its length."""
    if len(sender) <= _SENDER_MAX:
        return sender
    return "sha256-" + hashlib.sha256(sender.encode("utf-8", "surrogatepass")).hexdigest()


def button_payload(index: int, title: str) -> str:
    """What the button for the option at `index` sends back: its number, which the policy reads as
    the choice whatever normalisation does to a title, or beyond the fifth option the title itself."""
    return str(index + 1) if index < _ORDINAL_CHOICES else title


def to_rasa_messages(
    recipient_id: str, reply: BotReply, *, send_cards: bool, pushed_live: bool = False
) -> list[dict[str, Any]]:
    """One BotReply as Rasa REST bot messages (CollectingOutputChannel's shapes). In a live chat
    with an agent, the agent's lines not yet shown come first (the REST channel has no push: the
    citizen's next message collects them; a door that pushed them, `pushed_live`, leaves them
    out), and a line only relayed to the agent has no text."""
    lines = [] if pushed_live else (reply.handoff or {}).get("lines", [])
    live = [{"recipient_id": recipient_id, "text": line["text"]} for line in lines if line.get("text")]
    if reply.action == "handoff" and not reply.reply:
        return live
    first: dict[str, Any] = {"recipient_id": recipient_id, "text": reply.reply}
    if reply.options:
        first["buttons"] = [
            {"title": option.title, "payload": button_payload(i, option.title)}
            for i, option in enumerate(reply.options)
        ]
    messages = [*live, first]
    if send_cards and reply.card:
        custom = {
            "type": "govbot.answer_card",
            "action": reply.action,
            "item_id": reply.item_id,
            "card": reply.card,
            "sources": [source.model_dump() for source in reply.sources],
        }
        messages.append({"recipient_id": recipient_id, "custom": custom})
    handoff = reply.handoff or {}
    if send_cards and handoff.get("token") and not live and reply.reply:
        # A client that can follow the conversation itself (GET .../lines or .../events with the token)
        # shows the agent's lines as they come, instead of at the next message.
        custom = {
            "type": "govbot.handoff",
            **{k: handoff.get(k) for k in ("conversation", "token", "status")},
        }
        messages.append({"recipient_id": recipient_id, "custom": custom})
    return messages


class RasaRestChannel(Channel):
    config_model = RestChannelConfig

    def __init__(self, *, send_cards: bool = True) -> None:
        self.send_cards = send_cards

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_config(cls, config: dict[str, Any], runtime: ChannelRuntime | None = None) -> RasaRestChannel:
        return cls(send_cards=RestChannelConfig.model_validate(config).send_cards)

    def router(self, on_message: OnMessage) -> APIRouter:
        router = APIRouter(prefix="/webhooks/rest", tags=["rasa"])

        @router.get("/")
        async def health() -> dict[str, str]:
            """Rasa's channel health check."""
            return {"status": "ok"}

        @router.post("/webhook")
        async def receive(request: RestRequest) -> list[dict[str, Any]]:
            """One user message in, the bot's messages out (Rasa REST channel format)."""
            sender = DEFAULT_SENDER if request.sender is None else str(request.sender)
            message = UserMessage(
                text=request.message,
                session_id=session_key(self.name(), sender_key(sender)),
                channel=self.name(),
                message_id=uuid.uuid4().hex,
                metadata=request.metadata or {},
            )
            log.debug("rest.message.received", extra={"message_id": message.message_id})
            reply = await on_message(message)
            return to_rasa_messages(sender, reply, send_cards=self.send_cards)

        return router
