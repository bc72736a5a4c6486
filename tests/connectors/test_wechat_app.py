"""End to end: the real app (create_app over the prepared data directory) answers a real
question pushed by WeChat in safe mode, and a retry of that push is not answered twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET
from fastapi.testclient import TestClient

from bot.app import create_app
from connectors.wechat.config import WeChatApp, WeChatAppSecrets
from tests.api.conftest import server_settings
from tests.connectors.conftest import APP_SECRETS
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
    with TestClient(create_app(settings)) as client:
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
        metrics = client.get("/metrics").text
    replies = [
        line for line in metrics.splitlines() if line.startswith("govbot_replies_total") and "wechat" in line
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in replies) == 1.0
