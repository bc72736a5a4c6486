"""The channel contract: a channel turns a platform's requests into UserMessage and
BotReply back into the platform's format. It gets a callback and never touches the
dialogue engine or any store itself (Rasa's InputChannel idea, on FastAPI routers).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from bot.messages import BotReply, UserMessage

OnMessage = Callable[[UserMessage], Awaitable[BotReply]]
"""What the app hands every channel: send one message in, get the reply back."""


class ChannelConfig(BaseModel):
    """A channel's keys under `channels.<name>` in config.yml; a channel with keys subclasses this,
    each key with its default and a description (tests/bot/test_settings.py checks config.yml)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Serve this channel's routes")


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
    def from_config(cls, config: dict[str, Any]) -> Channel:
        """Build from the channel's own config section (secrets already resolved)."""
        return cls()

    @abstractmethod
    def router(self, on_message: OnMessage) -> APIRouter:
        """The HTTP routes of this channel; they call `on_message` and nothing else of the bot."""


def session_key(channel: str, user: str) -> str:
    """Sessions are keyed by channel and user, so one user on two doors has two conversations."""
    return f"{channel}:{user}"
