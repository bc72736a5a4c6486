"""A WeChat channel on a bare FastAPI app with a fake `on_message`, and a fake WeChat API server.

The harness's channel keeps time by a ManualClock standing at PUSHED_AT, and `wx_query`/`wx_push`
sign requests at that instant: the replay window never depends on how fast the tests run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from connectors.base import ChannelRuntime, Sleep
from connectors.wechat.channel import WeChatChannel
from core.channel_settings import WeChatAppSecrets
from core.clock import Clock, ManualClock, system_clock
from tests.utils.wechat import (
    AES_KEY,
    TOKEN,
    FakeOnMessage,
    FakeWeChatServer,
    encrypted_push,
    fake_wechat,
    plain_query,
)

APP_SECRETS = {
    "wxplain": "secret-plain",
    "wxcompat": "secret-compat",
    "wxsafe": "secret-safe",
    "wxmini": "s-m",
}
APPS = [
    {"app_id": "wxplain", "kind": "official_account", "encoding": "plain"},
    {"app_id": "wxcompat", "kind": "official_account", "encoding": "compat"},
    {"app_id": "wxsafe", "kind": "official_account", "encoding": "safe"},
    {"app_id": "wxmini", "kind": "mini_program", "encoding": "safe"},
]


PUSHED_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # the harness's "now"
PUSH_TIME = int(PUSHED_AT.timestamp())


def wx_query(**fields: Any) -> dict[str, str]:
    """A signed plaintext query, timestamped at the harness's now."""
    fields.setdefault("timestamp", PUSH_TIME)
    return plain_query(**fields)


def wx_push(inner: str, app_id: str, **options: Any) -> tuple[dict[str, str], str]:
    """(query, body) of an encrypted push, timestamped at the harness's now."""
    options.setdefault("timestamp", PUSH_TIME)
    return encrypted_push(inner, app_id, **options)


@pytest.fixture
def wechat_api() -> Iterator[FakeWeChatServer]:
    with fake_wechat(APP_SECRETS) as server:
        yield server


def make_channel(
    data_dir: Path,
    api_base: str,
    redis_url: str = "",
    clock: Clock = system_clock,
    sleep: Sleep = asyncio.sleep,
    **overrides: Any,
) -> WeChatChannel:
    config: dict[str, Any] = {
        "apps": APPS,
        "api_base": api_base,
        "reply_budget_seconds": 2.0,
        "retry_wait_seconds": 2.0,
        "more_link": "https://zwfw.example.gov.cn",
        "outbox": {"poll_seconds": 0.05, "retry": {"backoff_base_seconds": 0.05, "backoff_max_seconds": 0.2}},
        **overrides,
    }
    secrets = {
        app_id.upper(): WeChatAppSecrets(token=TOKEN, aes_key=AES_KEY, app_secret=secret)
        for app_id, secret in APP_SECRETS.items()
    }
    runtime = ChannelRuntime(
        data_dir=data_dir, redis_url=redis_url, secrets={"wechat": secrets}, clock=clock, sleep=sleep
    )
    return WeChatChannel.from_config(config, runtime)


class Harness:
    """A channel served by TestClient (lifespan runs start/stop), with its fake bot and clock."""

    def __init__(
        self, channel: WeChatChannel, bot: FakeOnMessage, client: TestClient, clock: ManualClock
    ) -> None:
        self.channel = channel
        self.bot = bot
        self.client = client
        self.clock = clock

    def outbox_counts(self) -> dict[str, int]:
        assert self.channel.outbox is not None
        return self.channel.outbox.counts()

    def dedupe_rows(self) -> int:
        import sqlite3

        path = self.channel.state_path
        assert path is not None
        with sqlite3.connect(path) as db:
            return int(db.execute("SELECT COUNT(*) FROM wechat_dedupe").fetchone()[0])


def serve(channel: WeChatChannel, bot: FakeOnMessage) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await channel.start()
        yield
        await channel.stop()

    app = FastAPI(lifespan=lifespan)
    app.include_router(channel.router(bot))
    return app


@pytest.fixture
def harness(tmp_path: Path, wechat_api: FakeWeChatServer) -> Iterator[Callable[..., Harness]]:
    """Factory: `harness(delay=..., reply_budget_seconds=...)` -> a started channel and client."""
    clients: list[TestClient] = []

    def make(bot: FakeOnMessage | None = None, **overrides: Any) -> Harness:
        bot = bot or FakeOnMessage()
        clock = ManualClock(PUSHED_AT)
        channel = make_channel(tmp_path / f"data-{len(clients)}", wechat_api.base, clock=clock, **overrides)
        client = TestClient(serve(channel, bot))
        client.__enter__()
        clients.append(client)
        return Harness(channel, bot, client, clock)

    yield make
    for client in clients:
        client.__exit__(None, None, None)
