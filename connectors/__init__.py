"""Channels: where a message enters. Importing a channel module registers it."""

from __future__ import annotations

from typing import Any

from connectors.base import Channel, ChannelConfig, ChannelRuntime, OnMessage, session_key

# Built-in channels register themselves on import (Channel.__init_subclass__).
BUILTIN_MODULES = (
    "connectors.web",
    "connectors.rasa",
    "connectors.rasa_callback",
    "connectors.wechat.channel",
)


def load_channels(
    config: dict[str, Any], enabled: list[str] | None = None, runtime: ChannelRuntime | None = None
) -> list[Channel]:
    """Instantiate every built-in channel (or those named in `enabled`) from its config section."""
    import importlib

    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    names = enabled if enabled is not None else list(Channel.registry)
    sections = {name: config.get(name) or {} for name in names}
    return [
        Channel.registry[name].from_config(section, runtime)
        for name, section in sections.items()
        if section.get("enabled", True)
    ]


__all__ = ["Channel", "ChannelConfig", "ChannelRuntime", "OnMessage", "load_channels", "session_key"]
