"""The Rasa callback door: `POST /webhooks/callback/webhook`, for clients built on Rasa's
CallbackInput, whose answers arrive at their own URL instead of in the HTTP response.

The request is the REST channel's (`{"sender", "message", "metadata"}`); the response is the text
`success` once the bot has answered, and each bot message (the REST channel's shapes:
`recipient_id`, `text`, `buttons`, `custom`) is POSTed as JSON to `channels.callback.url`. Unlike
Rasa, which posts once and logs a failure, the messages go through a durable outbox
(callback.sqlite in the data directory): `success` means they are stored, a receiver that is
down gets them when it is back (in order per user, retried with back-off, given up after
`outbox.retry.give_up_hours`). An agent's lines in a live chat are pushed the same way as they
are written, so the citizen does not wait for their own next message to see them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import httpx
from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import DeclarativeBase

from bot.messages import UserMessage
from connectors.base import Channel, ChannelRuntime, OnMessage, session_key
from connectors.push_outbox import DeliveryError, OutboxRow, PushColumns, PushOutbox
from connectors.rasa import DEFAULT_SENDER, RestRequest, sender_key, to_rasa_messages
from core.channel_settings import CallbackChannelConfig
from core.retry import refusal_is_permanent

log = logging.getLogger(__name__)


class _Base(DeclarativeBase):
    pass


class CallbackSend(PushColumns, _Base):
    """One bot message (a JSON object) waiting for, or given to, the callback URL."""

    __tablename__ = "callback_sends"


class RasaCallbackChannel(Channel):
    config_model = CallbackChannelConfig

    def __init__(self, settings: CallbackChannelConfig, runtime: ChannelRuntime | None) -> None:
        self.settings = settings
        self.outbox: PushOutbox | None = None
        if settings.url and runtime is not None:
            self.outbox = PushOutbox(
                runtime.data_dir / "callback.sqlite",
                settings.outbox,
                CallbackSend,
                name="callback.outbox",
                clock=runtime.clock,
            )
        self._http: httpx.AsyncClient | None = None
        self._runner: asyncio.Task[None] | None = None

    @classmethod
    def name(cls) -> str:
        return "callback"

    @classmethod
    def from_config(
        cls, config: dict[str, Any], runtime: ChannelRuntime | None = None
    ) -> RasaCallbackChannel:
        settings = CallbackChannelConfig.model_validate(config)
        if settings.url and runtime is None:
            raise ValueError("the callback channel needs a ChannelRuntime (its outbox is in the data dir)")
        return cls(settings, runtime)

    def router(self, on_message: OnMessage) -> APIRouter:
        router = APIRouter(prefix="/webhooks/callback", tags=["rasa"])
        outbox = self.outbox
        if outbox is None:  # no url: nowhere to answer, so no endpoint
            return router

        @router.get("/")
        async def health() -> dict[str, str]:
            """Rasa's channel health check."""
            return {"status": "ok"}

        @router.post("/webhook", response_class=PlainTextResponse)
        async def receive(request: RestRequest) -> str:
            """One user message in; `success` once the bot's messages are queued for the callback URL."""
            sender = DEFAULT_SENDER if request.sender is None else str(request.sender)
            user, message_id = sender_key(sender), uuid.uuid4().hex
            message = UserMessage(
                text=request.message,
                session_id=session_key(self.name(), user),
                channel=self.name(),
                message_id=message_id,
                metadata=request.metadata or {},
            )
            reply = await on_message(message)
            messages = to_rasa_messages(sender, reply, send_cards=self.settings.send_cards, pushed_live=True)
            parts = [json.dumps(m, ensure_ascii=False) for m in messages]
            await outbox.put(app_id="", touser=user, parts=parts, msg_key=message_id)
            return "success"

        return router

    async def deliver(self, session_id: str, text: str, key: str) -> None:
        """An agent's line (or a desk notice) to the callback URL, queued like an answer."""
        if self.outbox is None:
            return
        user = session_id.split(":", 1)[1]
        part = json.dumps({"recipient_id": user, "text": text}, ensure_ascii=False)
        await self.outbox.put(app_id="", touser=user, parts=[part], msg_key=key)

    async def send_row(self, row: OutboxRow) -> None:
        """POST one stored message; a 4xx about the request is not repeated, anything else is."""
        assert self._http is not None
        try:
            response = await self._http.post(
                self.settings.url,
                content=row.content.encode(),
                headers={"Content-Type": "application/json"},
                timeout=self.settings.http_timeout_seconds,
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            code = response.status_code
            raise DeliveryError(f"HTTP {code}", permanent=refusal_is_permanent(code))

    async def start(self) -> None:
        if self.outbox is not None and self._runner is None:
            self._http = httpx.AsyncClient()
            self._runner = asyncio.create_task(self.outbox.run(self.send_row))

    async def stop(self) -> None:
        """Stop the sender after the message in hand; what is left stays queued for the next start."""
        if self._runner is not None and self.outbox is not None:
            self.outbox.request_stop()
            await asyncio.wait({self._runner}, timeout=self.settings.http_timeout_seconds + 2)
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None
