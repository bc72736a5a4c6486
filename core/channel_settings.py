"""The `channels:` sections and the WeChat per-app secrets, declared once with help text.

Kept free of FastAPI and HTTP imports so that core/settings.py can validate every channel's
section at start-up (a typo in config.yml fails there, not on the first citizen's message).
Each channel in connectors/ names its model here as `config_model`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from core.config_model import Section
from core.retry import RetryPolicy


class ChannelConfig(Section):
    """A channel's keys under `channels.<name>` in config.yml; a channel with keys subclasses this,
    each key with its default and a description (tests/core/test_settings.py checks config.yml)."""

    enabled: bool = Field(True, description="Serve this channel's routes")


class RestChannelConfig(ChannelConfig):
    """Rasa REST channel: POST /webhooks/rest/webhook (connectors/rasa.py)."""

    send_cards: bool = Field(
        True, description="Add the answer card as a Rasa `custom` message after the text"
    )


class WeChatApp(Section):
    """One official account or mini-program that pushes messages to `/connectors/wechat/{app_id}`."""

    app_id: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$", description="AppID (wx...), also in the URL"
    )
    kind: Literal["official_account", "mini_program"] = Field(
        "official_account",
        description="official_account: passive XML replies; mini_program: 'success' + customer-service API",
    )
    encoding: Literal["plain", "compat", "safe"] = Field(
        "safe",
        description="Message encryption mode set in the WeChat console: plain, compat or safe (AES)",
    )
    passive_only: bool = Field(
        False,
        description="Run an official account without its AppSecret: passive replies only, and an answer "
        "later than reply_budget_seconds is dropped (logged wechat.reply.dropped); without this, a "
        "missing AppSecret stops start-up",
    )


class OutboxSettings(Section):
    poll_seconds: float = Field(1.0, gt=0, description="How often the sender looks for due messages")
    retry: RetryPolicy = Field(
        default_factory=lambda: RetryPolicy(
            backoff_base_seconds=2, backoff_max_seconds=300, give_up_hours=48, lease_seconds=30
        ),
        description="Back-off, give-up (WeChat's 48-hour customer-service window) and lease (core/outbox.py)",
    )


class WeChatSettings(ChannelConfig):
    apps: list[WeChatApp] = Field(default_factory=list, description="Accounts served; none: no endpoint")
    api_base: str = Field(
        "https://api.weixin.qq.com", description="WeChat API root (tests point it at a fake server)"
    )
    reply_budget_seconds: float = Field(
        4.5,
        gt=0,
        le=4.9,
        description="Answer passively if ready this soon, else via the customer-service API",
    )
    timestamp_window_seconds: int = Field(
        300, gt=0, description="Pushes whose timestamp is further from now are refused (replay)"
    )
    dedupe_ttl_seconds: int = Field(
        3600, gt=60, description="How long a MsgId is remembered (WeChat retries within ~15 s)"
    )
    retry_wait_seconds: float = Field(
        4.0, ge=0, le=4.9, description="A retry waits this long for the first delivery's reply"
    )
    max_reply_bytes: int = Field(2048, ge=200, description="WeChat's limit for one text message (UTF-8)")
    max_parts: int = Field(3, ge=1, description="A long answer sent by the API is split into at most this")
    more_link: str = Field("", description="Where the full answer can be read, shown when text is cut")
    welcome_reply: str = Field(
        "您好，欢迎使用政务服务智能助手！请直接输入您要办理的事项，例如“居住证怎么办理”。",
        description="Reply to subscribe / entering a mini-program chat",
    )
    unsupported_reply: str = Field(
        "您好，目前只能处理文字消息，请用文字描述您要咨询或办理的事项。",
        description="Reply to images, voice without recognition, locations, links, ...",
    )
    busy_reply: str = Field(
        "您发送消息过于频繁，请稍后再试。", description="Reply when the per-session rate limit is reached"
    )
    error_reply: str = Field(
        "抱歉，系统暂时无法回答，请稍后再试，或拨打12345热线。",
        description="Reply when the assistant failed on a message",
    )
    http_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one WeChat API call")
    outbox: OutboxSettings = Field(default_factory=OutboxSettings, description="Durable API sender")

    @field_validator("apps")
    @classmethod
    def _unique_ids(cls, apps: list[WeChatApp]) -> list[WeChatApp]:
        ids = [app.app_id.upper() for app in apps]
        if len(ids) != len(set(ids)):
            raise ValueError("each app_id may appear once")
        return apps


class CallbackChannelConfig(RestChannelConfig):
    """Rasa callback channel: POST /webhooks/callback/webhook answers "success" at once and the
    bot's messages are POSTed to `url` (connectors/rasa_callback.py)."""

    url: str = Field(
        "",
        description="Where the bot's messages are POSTed (Rasa credentials' `callback: url`); "
        "empty: the channel has no endpoint",
    )
    http_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one POST to the url")
    outbox: OutboxSettings = Field(
        default_factory=lambda: OutboxSettings(
            retry=RetryPolicy(
                backoff_base_seconds=2, backoff_max_seconds=300, give_up_hours=24, lease_seconds=30
            )
        ),
        description="Durable sender (callback.sqlite in the data directory); a message not taken "
        "within give_up_hours is dropped",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return url


CHANNEL_MODELS: dict[str, type[ChannelConfig]] = {
    "web": ChannelConfig,
    "rest": RestChannelConfig,
    "wechat": WeChatSettings,
    "callback": CallbackChannelConfig,
}
"""Channel name -> the model of its section; connectors/ registers a channel class per name."""

WeChatSecret = Literal["token", "aes_key", "app_secret"]
WECHAT_ENV_PREFIX = "GOVBOT_WECHAT_"
WECHAT_ENV_SUFFIXES: dict[WeChatSecret, str] = {
    "token": "_TOKEN",
    "aes_key": "_AES_KEY",
    "app_secret": "_SECRET",
}


def wechat_env_name(app_id: str, secret: WeChatSecret) -> str:
    """The environment variable that holds one secret of one app: GOVBOT_WECHAT_<APPID>_TOKEN, ..."""
    return f"{WECHAT_ENV_PREFIX}{app_id.upper()}{WECHAT_ENV_SUFFIXES[secret]}"


class WeChatAppSecrets(BaseModel):
    """GOVBOT_WECHAT_<APPID>_TOKEN, _AES_KEY and _SECRET for one app (never in config.yml)."""

    token: str = Field("", description="GOVBOT_WECHAT_<APPID>_TOKEN: the Token set in the WeChat console")
    aes_key: str = Field(
        "", description="GOVBOT_WECHAT_<APPID>_AES_KEY: the 43-character EncodingAESKey (compat/safe)"
    )
    app_secret: str = Field(
        "", description="GOVBOT_WECHAT_<APPID>_SECRET: the AppSecret, for the customer-service API"
    )

    @field_validator("aes_key")
    @classmethod
    def _aes_key_shape(cls, value: str) -> str:
        if value:
            check_aes_key(value)
        return value


def check_aes_key(value: str) -> bytes:
    """The 32-byte AES key from a 43-character EncodingAESKey, or ValueError saying what is wrong."""
    if len(value) != 43:
        raise ValueError(f"EncodingAESKey must have 43 characters, not {len(value)}")
    try:
        key = base64.b64decode(value + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("EncodingAESKey is not base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey does not decode to 32 bytes")
    return key
