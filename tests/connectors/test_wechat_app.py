"""End to end: the real app (create_app over the prepared data directory) answers a real
question pushed by WeChat in safe mode, and a retry of that push is not answered twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET
from fastapi.testclient import TestClient

from core.channel_settings import WeChatApp, WeChatAppSecrets
from server.app import create_app
from tests.connectors.conftest import APP_SECRETS
from tests.server.conftest import server_settings
from tests.utils.ticketdb import database_of
from tests.utils.wechat import (
    AES_KEY,
    TOKEN,
    FakeWeChatServer,
    encrypted_push,
    fake_wechat,
    sha1_signature,
    text_xml,
    wait_until,
    wx_decrypt,
)


@pytest.fixture
def api_server() -> Iterator[FakeWeChatServer]:
    with fake_wechat({**APP_SECRETS, "wxe2e": "secret-e2e"}) as server:
        yield server


def _answer_text(response_text: str, server: FakeWeChatServer) -> str:
    """The answer, whether it came back passively or (past the budget) through the API."""
    if response_text == "success":
        assert wait_until(lambda: len(server.api.sent) >= 1, timeout=60)
        return "\n".join(server.api.contents())
    outer = {c.tag: c.text or "" for c in SafeET.fromstring(response_text)}
    assert outer["MsgSignature"] == sha1_signature(
        TOKEN, outer["TimeStamp"], outer["Nonce"], outer["Encrypt"]
    )
    inner, app_id = wx_decrypt(outer["Encrypt"])
    assert app_id == "wxe2e"
    return {c.tag: c.text or "" for c in SafeET.fromstring(inner)}["Content"]


def test_real_question_through_wechat(
    copy_prepared: Callable[[], Path], api_server: FakeWeChatServer
) -> None:
    settings = server_settings(copy_prepared())
    settings.channels["wechat"] = {
        "apps": [WeChatApp(app_id="wxe2e", kind="official_account", encoding="safe").model_dump()],
        "api_base": api_server.base,
        "reply_budget_seconds": 4.5,
    }
    settings.secrets.wechat = {
        "WXE2E": WeChatAppSecrets(token=TOKEN, aes_key=AES_KEY, app_secret="secret-e2e")
    }

    def wechat_replies(client: TestClient) -> float:  # the counters are the process's: read a delta
        metrics = client.get("/metrics").text.splitlines()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics
            if line.startswith("govbot_replies_total") and 'channel="wechat"' in line
        )

    with TestClient(create_app(settings)) as client:
        before = wechat_replies(client)
        query, body = encrypted_push(text_xml(content="居住证怎么办理", msg_id="424242"), "wxe2e")
        first = client.post("/connectors/wechat/wxe2e", params=query, content=body.encode())
        assert first.status_code == 200, first.text
        answer = _answer_text(first.text, api_server)
        assert "居住证" in answer
        assert len(answer.encode()) <= 2048 * 3
        retry = client.post("/connectors/wechat/wxe2e", params=query, content=body.encode())
        assert retry.status_code == 200
        if first.text != "success":
            assert _answer_text(retry.text, api_server) == answer
        assert wechat_replies(client) - before == 1.0  # the retry was not answered again


def test_duplicate_pushes_of_the_confirmation_create_one_ticket(
    copy_prepared: Callable[[], Path], api_server: FakeWeChatServer
) -> None:
    """The ticket form turn by turn over WeChat; WeChat re-pushes 确认提交 → still one ticket."""
    from sqlalchemy import create_engine, select

    from tickets.models import Ticket

    data_dir = copy_prepared()
    settings = server_settings(data_dir)
    settings.channels["wechat"] = {
        "apps": [WeChatApp(app_id="wxe2e", kind="official_account", encoding="safe").model_dump()],
        "api_base": api_server.base,
        "reply_budget_seconds": 4.5,
    }
    settings.secrets.wechat = {
        "WXE2E": WeChatAppSecrets(token=TOKEN, aes_key=AES_KEY, app_secret="secret-e2e")
    }
    turns = [
        "楼道里的消防栓被人拆走了，一直没有人来修，很危险",
        "越秀区东风中路300号",
        "13812345678",
        "跳过",
        "同意",
    ]
    with TestClient(create_app(settings)) as client:
        before = _wechat_replies(client)
        for n, content in enumerate(turns, start=1):
            query, body = encrypted_push(text_xml(content=content, msg_id=f"77{n}"), "wxe2e")
            assert (
                client.post("/connectors/wechat/wxe2e", params=query, content=body.encode()).status_code
                == 200
            )
        confirm = text_xml(content="确认提交", msg_id="7799")
        for _ in range(3):  # WeChat's retries of one message carry the same MsgId
            query, body = encrypted_push(confirm, "wxe2e")
            assert (
                client.post("/connectors/wechat/wxe2e", params=query, content=body.encode()).status_code
                == 200
            )
        assert _wechat_replies(client) - before == len(turns) + 1  # the retries were not answered again
    engine = create_engine(database_of(data_dir) or f"sqlite:///{data_dir / 'tickets.sqlite'}")
    with engine.connect() as conn:  # the place is sealed at rest: read through the model's column type
        rows = [tuple(r) for r in conn.execute(select(Ticket.channel, Ticket.location)).all()]
    engine.dispose()
    assert rows == [("wechat", "越秀区东风中路300号")]


def _wechat_replies(client: TestClient) -> float:
    lines = client.get("/metrics").text.splitlines()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in lines
        if line.startswith("govbot_replies_total") and 'channel="wechat"' in line
    )
