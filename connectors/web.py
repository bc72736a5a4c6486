"""The web door: `POST /api/v1/chat` (the widget and any HTTP client) and the widget's files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, Field

from bot.messages import BotReply, UserMessage
from connectors.base import Channel, ChannelRuntime, OnMessage, session_key
from core import vocab

STATIC_DIR = Path(__file__).resolve().parent / "static"


class ChatRequest(BaseModel):
    session_id: str = Field(min_length=1, max_length=128, description="The widget's visitor id")
    text: str = Field(description="What the citizen typed")
    channel: vocab.Channel = Field(
        "web", description="Where the client is: one of core.vocab.CHANNELS (others get 422, listing them)"
    )


class WebChannel(Channel):
    @classmethod
    def name(cls) -> str:
        return "web"

    @classmethod
    def from_config(cls, config: dict[str, Any], runtime: ChannelRuntime | None = None) -> WebChannel:
        return cls()

    def router(self, on_message: OnMessage) -> APIRouter:
        router = APIRouter(tags=["chat"])

        @router.post("/api/v1/chat", response_model=BotReply)
        async def chat(request: ChatRequest) -> BotReply:
            """One chat turn; the reply is the same object as `govbot ask --json`."""
            message = UserMessage(
                text=request.text,
                session_id=session_key(request.channel, request.session_id),
                channel=request.channel,
            )
            return await on_message(message)

        @router.get("/widget.js", include_in_schema=False)
        async def widget_script() -> FileResponse:
            return FileResponse(STATIC_DIR / "widget.js", media_type="text/javascript")

        @router.get("/widget.css", include_in_schema=False)
        async def widget_style() -> FileResponse:
            return FileResponse(STATIC_DIR / "widget.css", media_type="text/css")

        @router.get("/", include_in_schema=False, response_class=HTMLResponse)
        async def demo_page() -> FileResponse:
            return FileResponse(STATIC_DIR / "demo.html", media_type="text/html")

        return router
