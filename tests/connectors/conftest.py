"""A WeChat channel on a bare FastAPI app with a fake `on_message`, and a fake WeChat API server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from connectors.base import ChannelRuntime
from connectors.wechat.channel import WeChatChannel
from core.channel_settings import WeChatAppSecrets
from tests.utils.wechat import AES_KEY, TOKEN, FakeOnMessage, FakeWeChatServer, fake_wechat

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


@pytest.fixture
def wechat_api() -> Iterator[FakeWeChatServer]:
    with fake_wechat(APP_SECRETS) as server:
        yield server


def make_channel(data_dir: Path, api_base: str, redis_url: str = "", **overrides: Any) -> WeChatChannel:
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
    runtime = ChannelRuntime(data_dir=data_dir, redis_url=redis_url, secrets={"wechat": secrets})
    return WeChatChannel.from_config(config, runtime)


class Harness:
    """A channel served by TestClient (lifespan runs start/stop), with its fake bot."""

    def __init__(self, channel: WeChatChannel, bot: FakeOnMessage, client: TestClient) -> None:
        self.channel = channel
        self.bot = bot
        self.client = client

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
        channel = make_channel(tmp_path / f"data-{len(clients)}", wechat_api.base, **overrides)
        client = TestClient(serve(channel, bot))
        client.__enter__()
        clients.append(client)
        return Harness(channel, bot, client)

    yield make
    for client in clients:
        client.__exit__(None, None, None)
