"""Live handoff over WeChat (customer-service API of the fake WeChat server) and the Rasa REST
channel, through the real app. Working hours and presence follow a ManualClock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET
from fastapi.testclient import TestClient

from bot.handoff import desk_notices
from bot.responses import Responses
from core.channel_settings import WeChatApp, WeChatAppSecrets
from core.clock import ManualClock, system_clock
from server.app import create_app
from tests.server.conftest import AGENT_TOKEN, server_settings
from tests.utils.ticketdb import copy_data_dir
from tests.utils.wechat import (
    AES_KEY,
    OPENID,
    TOKEN,
    FakeWeChatServer,
    encrypted_push,
    fake_wechat,
    text_xml,
    wait_until,
    wx_decrypt,
)

NOTICES = desk_notices(Responses.load())

AGENT = {"Authorization": f"Bearer {AGENT_TOKEN}"}
APP = "wxlive"


@pytest.fixture(scope="module")
def wechat_api() -> Iterator[FakeWeChatServer]:
    with fake_wechat({APP: "secret-live"}) as server:
        yield server


@pytest.fixture(scope="module")
def served(
    prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory, wechat_api: FakeWeChatServer
) -> Iterator[tuple[TestClient, ManualClock]]:
    data_dir = tmp_path_factory.mktemp("handoff-channels") / "data"
    copy_data_dir(prepared_dir, data_dir)  # on PostgreSQL: its own schema too
    settings = server_settings(data_dir)
    settings.channels["wechat"] = {
        "apps": [WeChatApp(app_id=APP, kind="official_account", encoding="safe").model_dump()],
        "api_base": wechat_api.base,
        "reply_budget_seconds": 4.5,
        "outbox": {"poll_seconds": 0.1},
    }
    settings.secrets.wechat = {
        APP.upper(): WeChatAppSecrets(token=TOKEN, aes_key=AES_KEY, app_secret="secret-live")
    }
    clock = ManualClock()
    app = create_app(settings)
    app.state.desk.clock = clock
    for engine in app.state.service.engines:  # whichever engine answers keeps the test's time
        engine.clock = clock
    with TestClient(app) as client:
        yield client, clock


def _push(client: TestClient, text: str) -> str:
    """A citizen's WeChat message; the passive reply's text ('' for 'success')."""
    query, body = encrypted_push(text_xml(app_id=APP, content=text, msg_id=uuid.uuid4().hex[:12]), APP)
    response = client.post(f"/connectors/wechat/{APP}", params=query, content=body.encode())
    assert response.status_code == 200, response.text
    if response.text == "success":
        return ""
    outer = {c.tag: c.text or "" for c in SafeET.fromstring(response.text)}
    inner, _ = wx_decrypt(outer["Encrypt"])
    return {c.tag: c.text or "" for c in SafeET.fromstring(inner)}["Content"]


def _only(client: TestClient, channel: str) -> dict:
    found = [c for c in client.get("/api/v1/handoff/inbox", headers=AGENT).json()["conversations"]]
    mine = [c for c in found if c["channel"] == channel]
    assert len(mine) == 1, found
    return mine[0]


def test_wechat_citizen_gets_the_agent_through_the_customer_service_api(
    served: tuple[TestClient, ManualClock], wechat_api: FakeWeChatServer
) -> None:
    client, clock = served
    clock.set_local("2026-11-23 10:00")
    api = wechat_api.api
    client.get("/api/v1/handoff/inbox", headers=AGENT)  # an agent's inbox is open

    assert "已为您转接人工客服" in _push(client, "转人工")
    conversation = _only(client, "wechat")
    assert conversation["status"] == "waiting"

    sent_before = len(api.sent)
    assert client.post(f"/api/v1/handoff/{conversation['id']}/take", headers=AGENT).status_code == 200
    assert wait_until(lambda: NOTICES["joined"] in api.contents(), timeout=30)
    assert api.sent[sent_before]["touser"] == OPENID

    # An expired access token is refreshed and the message sent with a valid one.
    api.expire_tokens()
    requests = api.token_requests
    said = client.post(
        f"/api/v1/handoff/{conversation['id']}/reply", json={"text": "您好，我是客服小李。"}, headers=AGENT
    )
    assert said.status_code == 200
    assert wait_until(lambda: "您好，我是客服小李。" in api.contents(), timeout=30)
    assert api.token_requests == requests + 1

    # WeChat down: the line waits in the durable outbox and goes out once WeChat is back.
    wechat = client.app.state.live.channels["wechat"]  # type: ignore[attr-defined]
    api.failing = True
    client.post(f"/api/v1/handoff/{conversation['id']}/reply", json={"text": "第二条回复"}, headers=AGENT)
    assert wait_until(lambda: wechat.outbox.counts().get("pending", 0) >= 1, timeout=30)
    assert "第二条回复" not in api.contents()
    api.failing = False
    wechat.outbox.clock = lambda: system_clock() + timedelta(hours=1)  # past the back-off
    assert wait_until(lambda: "第二条回复" in api.contents(), timeout=30)
    assert wechat.outbox.counts().get("failed", 0) == 0

    # The citizen's own line goes to the agent; WeChat gets no bot answer for it.
    assert _push(client, "好的，谢谢") == ""
    lines = client.get(f"/api/v1/handoff/{conversation['id']}", headers=AGENT).json()["lines"]
    assert lines[-1]["sender"] == "citizen" and lines[-1]["text"] == "好的，谢谢"

    closed = client.post(
        f"/api/v1/handoff/{conversation['id']}/close", json={"outcome": "resolved"}, headers=AGENT
    )
    assert closed.status_code == 200
    assert wait_until(lambda: NOTICES["closed"] in api.contents(), timeout=30)
    assert "已为您转接" not in _push(client, "居住证怎么办理")  # the bot answers again


def _rest(client: TestClient, sender: str, text: str) -> list[dict]:
    response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert response.status_code == 200, response.text
    return response.json()


def test_rasa_rest_citizen_collects_the_agents_lines_with_the_next_message(
    served: tuple[TestClient, ManualClock],
) -> None:
    client, clock = served
    clock.set_local("2026-11-23 11:00")
    client.get("/api/v1/handoff/inbox", headers=AGENT)
    sender = f"rasa-{uuid.uuid4().hex[:8]}"

    opened = _rest(client, sender, "转人工")
    assert "已为您转接人工客服" in opened[0]["text"]
    live = [m["custom"] for m in opened if m.get("custom", {}).get("type") == "govbot.handoff"]
    assert live and live[0]["status"] == "waiting" and live[0]["token"]
    conversation = _only(client, "rest")
    assert conversation["id"] == live[0]["conversation"]

    client.post(f"/api/v1/handoff/{conversation['id']}/take", headers=AGENT)
    client.post(f"/api/v1/handoff/{conversation['id']}/reply", json={"text": "请讲，我在听。"}, headers=AGENT)
    # A client following the conversation itself sees the line at once ...
    polled = client.get(
        f"/api/v1/handoff/{conversation['id']}/lines", params={"token": live[0]["token"]}
    ).json()
    assert [line["text"] for line in polled["lines"]][-1] == "请讲，我在听。"
    # ... and the plain REST client gets it with the next message, once.
    nxt = _rest(client, sender, "我想问社保转移")
    assert [m["text"] for m in nxt] == [NOTICES["joined"], "请讲，我在听。"]
    assert _rest(client, sender, "在吗") == []  # nothing new: the line only went to the agent

    client.post(f"/api/v1/handoff/{conversation['id']}/close", json={"outcome": "resolved"}, headers=AGENT)
    after = _rest(client, sender, "居住证怎么办理")
    assert after and after[0]["text"] and "转接" not in after[0]["text"]


def test_rasa_rest_outside_hours_offers_a_ticket(served: tuple[TestClient, ManualClock]) -> None:
    client, clock = served
    clock.set_local("2026-11-23 21:00")
    client.get("/api/v1/handoff/inbox", headers=AGENT)
    sender = f"rasa-{uuid.uuid4().hex[:8]}"
    reply = _rest(client, sender, "转人工")
    assert "不是人工客服的在线时间" in reply[0]["text"] and "明天09:00" in reply[0]["text"]
    assert not [m for m in reply if m.get("custom", {}).get("type") == "govbot.handoff"]
