"""Channels: where a message enters. Importing a channel module registers it."""

from __future__ import annotations

from typing import Any

from connectors.base import Channel, ChannelRuntime, OnMessage, session_key

# Built-in channels register themselves on import (Channel.__init_subclass__).
BUILTIN_MODULES = ("connectors.web", "connectors.wechat.channel")


def load_channels(
    config: dict[str, Any], enabled: list[str] | None = None, runtime: ChannelRuntime | None = None
) -> list[Channel]:
    """Instantiate every built-in channel (or those named in `enabled`) from its config section."""
    import importlib

    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    names = enabled if enabled is not None else list(Channel.registry)
    return [Channel.registry[name].from_config(config.get(name) or {}, runtime) for name in names]


__all__ = ["Channel", "ChannelRuntime", "OnMessage", "load_channels", "session_key"]
