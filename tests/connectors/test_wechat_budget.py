"""The reply budget decided by events, not by the machine's speed: the bot answers when the test
opens a message's gate and the budget runs out when the test says so.

An answer ready inside the budget leaves as the passive reply (plaintext and safe mode); one
ready after goes out through the customer-service outbox; messages pushed together reach the
bot together, and each is answered as soon as its own answer is ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from defusedxml import ElementTree as SafeET
from fastapi import FastAPI

from bot.messages import BotReply, UserMessage
from connectors.wechat.channel import WeChatChannel
from core.clock import ManualClock
from tests.connectors.conftest import PUSHED_AT, make_channel, wx_push, wx_query
from tests.utils.wechat import FakeWeChatServer, async_wait_until, text_xml, wx_decrypt


class GatedBot:
    """Stands in for the engine: each message waits until the test opens its gate (by text)."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.started: list[str] = []

    def gate(self, text: str) -> asyncio.Event:
        return self.gates.setdefault(text, asyncio.Event())

    async def __call__(self, message: UserMessage) -> BotReply:
        self.started.append(message.text)
        await self.gate(message.text).wait()
        return BotReply(action="answer", intent="ask_service", reply=f"关于“{message.text}”的答复。")


class HandBudget:
    """The reply budget's sleep: every wait lasts until the test calls `expire()`."""

    def __init__(self) -> None:
        self.expired = asyncio.Event()
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await self.expired.wait()

    def expire(self) -> None:
        self.expired.set()


Scenario = Callable[[httpx.AsyncClient, GatedBot, HandBudget], Awaitable[None]]


def run_scenario(tmp_path: Path, wechat_api: FakeWeChatServer, scenario: Scenario) -> WeChatChannel:
    async def main() -> WeChatChannel:
        bot, budget = GatedBot(), HandBudget()
        channel = make_channel(tmp_path / "data", wechat_api.base, clock=ManualClock(PUSHED_AT), sleep=budget)
        app = FastAPI()
        app.include_router(channel.router(bot))
        await channel.start()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://wechat.test") as client:
                await scenario(client, bot, budget)
        finally:
            for gate in bot.gates.values():  # nothing left hanging when a check failed
                gate.set()
            await channel.stop()
        return channel

    return asyncio.run(main())


def push(
    client: httpx.AsyncClient, app_id: str, text: str, user: str, msg_id: str
) -> asyncio.Task[httpx.Response]:
    xml = text_xml(content=text, msg_id=msg_id, FromUserName=user)
    if app_id == "wxsafe":
        query, body = wx_push(xml, app_id)
    else:
        query, body = wx_query(), xml
    return asyncio.create_task(
        client.post(f"/connectors/wechat/{app_id}", params=query, content=body.encode())
    )


def content(response: httpx.Response) -> str:
    """The passive reply's text ('' for "success"), opening a safe-mode envelope."""
    if response.text == "success":
        return ""
    fields = {child.tag: child.text or "" for child in SafeET.fromstring(response.text)}
    if "Encrypt" in fields:
        inner, _ = wx_decrypt(fields["Encrypt"])
        fields = {child.tag: child.text or "" for child in SafeET.fromstring(inner)}
    return fields["Content"]


@pytest.mark.parametrize("app_id", ["wxplain", "wxsafe"])
def test_an_answer_ready_inside_the_budget_is_the_passive_reply(
    tmp_path: Path, wechat_api: FakeWeChatServer, app_id: str
) -> None:
    async def scenario(client: httpx.AsyncClient, bot: GatedBot, budget: HandBudget) -> None:
        reply = push(client, app_id, "居住证怎么办理", "oUser_a", "6001")
        assert await async_wait_until(lambda: bot.started == ["居住证怎么办理"])
        assert not reply.done()  # waiting for the answer, inside the budget
        bot.gate("居住证怎么办理").set()
        response = await reply
        assert content(response) == "关于“居住证怎么办理”的答复。"
        assert not budget.expired.is_set()
        assert len(budget.asked) == 1 and 0 < budget.asked[0] <= 2.0  # what was left of the budget

    channel = run_scenario(tmp_path, wechat_api, scenario)
    assert channel.outbox is not None and channel.outbox.counts() == {}
    assert wechat_api.api.sent == []


def test_an_answer_ready_after_the_budget_goes_through_the_outbox(
    tmp_path: Path, wechat_api: FakeWeChatServer
) -> None:
    async def scenario(client: httpx.AsyncClient, bot: GatedBot, budget: HandBudget) -> None:
        reply = push(client, "wxplain", "社保卡丢了怎么补办", "oUser_b", "6002")
        assert await async_wait_until(lambda: bot.started == ["社保卡丢了怎么补办"])
        budget.expire()
        response = await reply  # WeChat gets its answer without waiting for the bot
        assert response.text == "success"
        assert wechat_api.api.sent == []
        bot.gate("社保卡丢了怎么补办").set()
        assert await async_wait_until(
            lambda: wechat_api.api.contents() == ["关于“社保卡丢了怎么补办”的答复。"]
        )
        assert wechat_api.api.sent[0]["touser"] == "oUser_b"

    run_scenario(tmp_path, wechat_api, scenario)


def test_messages_pushed_together_are_answered_side_by_side(
    tmp_path: Path, wechat_api: FakeWeChatServer
) -> None:
    """The second message reaches the bot while the first is unanswered, and its reply does not
    wait for the first one's."""

    async def scenario(client: httpx.AsyncClient, bot: GatedBot, budget: HandBudget) -> None:
        first = push(client, "wxsafe", "公积金怎么提取", "oUser_c", "6003")
        second = push(client, "wxsafe", "护照怎么办理", "oUser_d", "6004")
        assert await async_wait_until(lambda: sorted(bot.started) == ["公积金怎么提取", "护照怎么办理"])
        bot.gate("护照怎么办理").set()
        assert content(await second) == "关于“护照怎么办理”的答复。"
        assert not first.done()
        bot.gate("公积金怎么提取").set()
        assert content(await first) == "关于“公积金怎么提取”的答复。"
        assert not budget.expired.is_set()

    run_scenario(tmp_path, wechat_api, scenario)
    assert wechat_api.api.sent == []
