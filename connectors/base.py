"""The channel contract: a channel turns a platform's requests into UserMessage and
BotReply back into the platform's format. It gets a callback and never touches the
dialogue engine or any store itself (Rasa's InputChannel idea, on FastAPI routers).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from fastapi import APIRouter

from bot.messages import BotReply, UserMessage
from core.channel_settings import ChannelConfig
from core.clock import Clock, system_clock

OnMessage = Callable[[UserMessage], Awaitable[BotReply]]
"""What the app hands every channel: send one message in, get the reply back."""

Sleep = Callable[[float], Awaitable[None]]
"""Waits so many seconds of a time budget (asyncio.sleep; tests end it when they choose)."""


@dataclass(frozen=True)
class ChannelRuntime:
    """What a channel may need from the running server besides its own config section.

    Built by the app from its settings, so that channels never read settings or the
    environment themselves: where durable state may live, the shared Redis (if any),
    the channel's secrets, keyed by channel name, the clock that replay windows and
    expiry are judged by (tests pass a ManualClock), and the sleep that reply budgets
    run out by (tests pass one they end by hand).
    """

    data_dir: Path
    redis_url: str = ""
    redis_prefix: str = "govbot:"  # server.redis_prefix: deployments sharing one Redis keep apart
    secrets: Mapping[str, Any] = field(default_factory=dict)
    clock: Clock = system_clock
    sleep: Sleep = asyncio.sleep


class Channel(ABC):
    """One door into the assistant (web widget, WeChat, Rasa REST, ...)."""

    registry: ClassVar[dict[str, type[Channel]]] = {}
    config_model: ClassVar[type[ChannelConfig]] = ChannelConfig

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not getattr(cls, "__abstractmethods__", None):
            Channel.registry[cls.name()] = cls

    @classmethod
    @abstractmethod
    def name(cls) -> str:
        """The channel's name: its section under `channels:` in config.yml and in UserMessage."""

    @classmethod
    def from_config(cls, config: dict[str, Any], runtime: ChannelRuntime | None = None) -> Channel:
        """Build from the channel's own config section and, where needed, the runtime."""
        return cls()

    @abstractmethod
    def router(self, on_message: OnMessage) -> APIRouter:
        """The HTTP routes of this channel; they call `on_message` and nothing else of the bot."""

    async def deliver(self, session_id: str, text: str, key: str) -> None:
        """Push `text` to the user of `session_id` outside a request (an agent's line in a live
        chat). Doors without a push API do nothing: their users get such lines with the next
        reply or through the web event stream. `key` is stable, so a repeat is not sent twice."""
        return None

    async def start(self) -> None:
        """Called once the app is serving: start background work (e.g. an outbox sender)."""
        return None  # optional hook: most channels have no background work

    async def stop(self) -> None:
        """Called on shutdown: finish or hand over background work, close connections."""
        return None


def session_key(channel: str, user: str) -> str:
    """Sessions are keyed by channel and user, so one user on two doors has two conversations."""
    return f"{channel}:{user}"
