"""The push protocol end to end through HTTP: URL check, plaintext/compat/safe XML, mini-program JSON,
fixed replies, the reply budget, long replies, and refusals that leave no trace.

Requests are signed at the harness's clock (`wx_query`, `wx_push`), never at the machine's time, so a
slow run cannot push them out of the replay window.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from defusedxml import ElementTree as SafeET

from bot.messages import Option
from core.channel_settings import WeChatSettings
from core.errors import RateLimitedError
from tests.connectors.conftest import PUSH_TIME, Harness, wx_push, wx_query
from tests.utils.wechat import (
    OPENID,
    TOKEN,
    FakeOnMessage,
    FakeWeChatServer,
    sha1_signature,
    text_xml,
    wait_until,
    wx_decrypt,
    wx_encrypt,
    wx_encrypt_raw,
)

MakeHarness = Callable[..., Harness]


def _fields(xml: str) -> dict[str, str]:
    return {child.tag: child.text or "" for child in SafeET.fromstring(xml)}


def _open_reply(text: str, app_id: str) -> dict[str, str]:
    """Check an encrypted passive reply the way WeChat does and return the inner fields."""
    outer = _fields(text)
    assert outer["MsgSignature"] == sha1_signature(
        TOKEN, outer["TimeStamp"], outer["Nonce"], outer["Encrypt"]
    )
    inner, tail = wx_decrypt(outer["Encrypt"])
    assert tail == app_id
    return _fields(inner)


def _post(h: Harness, app_id: str, query: dict[str, str], body: str) -> Any:
    return h.client.post(f"/connectors/wechat/{app_id}", params=query, content=body.encode())


# -- URL verification -------------------------------------------------------------------------


def test_url_verification_echoes_echostr(harness: MakeHarness) -> None:
    h = harness()
    query = {**wx_query(), "echostr": "7390275341062541"}
    response = h.client.get("/connectors/wechat/wxsafe", params=query)
    assert response.status_code == 200
    assert response.text == "7390275341062541"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"signature": "0" * 40}, 401),
        ({"timestamp": str(PUSH_TIME - 3600)}, 401),
        ({"timestamp": "soon"}, 400),
        ({"nonce": ""}, 400),
    ],
    ids=["bad-signature", "stale", "not-a-number", "no-nonce"],
)
def test_url_verification_refusals(harness: MakeHarness, change: dict[str, str], code: int) -> None:
    h = harness()
    query = {**wx_query(), "echostr": "42", **change}
    response = h.client.get("/connectors/wechat/wxsafe", params=query)
    assert response.status_code == code
    assert "42" not in response.text


@pytest.mark.parametrize(("seconds", "code"), [(299, 200), (301, 401), (-301, 401)])
def test_replay_window_is_judged_by_the_channel_clock(harness: MakeHarness, seconds: int, code: int) -> None:
    """A query signed at PUSH_TIME, checked when the channel's clock has moved on (or back)."""
    h = harness()
    signed = {**wx_query(), "echostr": "42"}
    h.clock.advance(seconds=seconds)
    response = h.client.get("/connectors/wechat/wxsafe", params=signed)
    assert response.status_code == code
    assert (response.text == "42") is (code == 200)


def test_unknown_app_is_404(harness: MakeHarness) -> None:
    h = harness()
    assert h.client.get("/connectors/wechat/wxnobody", params=wx_query()).status_code == 404


# -- messages ---------------------------------------------------------------------------------


def test_plaintext_xml_gets_a_passive_reply(harness: MakeHarness) -> None:
    h = harness()
    response = _post(h, "wxplain", wx_query(), text_xml(content="居住证怎么办理", msg_id="5001"))
    assert response.status_code == 200
    reply = _fields(response.text)
    assert reply["ToUserName"] == OPENID
    assert reply["FromUserName"] == "gh_account"
    assert reply["MsgType"] == "text"
    assert reply["Content"] == "关于“居住证怎么办理”的答复。"
    [message] = h.bot.calls
    assert message.text == "居住证怎么办理"
    assert message.channel == "wechat"
    assert message.session_id == f"wechat:wxplain:{OPENID}"
    assert message.message_id == "5001"


@pytest.mark.parametrize("app_id", ["wxcompat", "wxsafe"])
def test_encrypted_xml_gets_an_encrypted_signed_reply(harness: MakeHarness, app_id: str) -> None:
    h = harness()
    inner = text_xml(content="护照过期了怎么换", msg_id="5002")
    copy = inner if app_id == "wxcompat" else ""
    query, body = wx_push(inner, app_id, plain_copy=copy)
    response = _post(h, app_id, query, body)
    assert response.status_code == 200, response.text
    reply = _open_reply(response.text, app_id)
    assert reply["Content"] == "关于“护照过期了怎么换”的答复。"
    assert reply["ToUserName"] == OPENID
    assert [m.text for m in h.bot.calls] == ["护照过期了怎么换"]


def test_compat_mode_also_takes_plaintext(harness: MakeHarness) -> None:
    h = harness()
    response = _post(h, "wxcompat", wx_query(), text_xml(content="你好", msg_id="5003"))
    assert _fields(response.text)["Content"] == "关于“你好”的答复。"


def test_mini_program_json_answers_success_and_sends_through_the_api(
    harness: MakeHarness, wechat_api: FakeWeChatServer
) -> None:
    h = harness()
    inner = json.dumps(
        {
            "ToUserName": "gh_mini",
            "FromUserName": OPENID,
            "CreateTime": PUSH_TIME,
            "MsgType": "text",
            "Content": "公积金怎么提取",
            "MsgId": 7001,
        },
        ensure_ascii=False,
    )
    query, body = wx_push(inner, "wxmini", json_body=True)
    response = _post(h, "wxmini", query, body)
    assert response.status_code == 200
    assert response.text == "success"
    assert wait_until(lambda: len(wechat_api.api.sent) == 1)
    [sent] = wechat_api.api.sent
    assert sent == {"touser": OPENID, "msgtype": "text", "text": {"content": "关于“公积金怎么提取”的答复。"}}
    assert h.bot.calls[0].session_id == f"wechat:wxmini:{OPENID}"
    assert wait_until(lambda: h.outbox_counts() == {"done": 1})


def test_official_account_late_answer_goes_through_the_api(
    harness: MakeHarness, wechat_api: FakeWeChatServer
) -> None:
    # The answer takes longer than the budget (both timers of one event loop, so the budget
    # always runs out first): WeChat gets "success" and the answer goes through the API.
    h = harness(FakeOnMessage(delay=0.8), reply_budget_seconds=0.2)
    response = _post(h, "wxplain", wx_query(), text_xml(content="慢问题", msg_id="5004"))
    assert response.text == "success"
    assert wait_until(lambda: wechat_api.api.contents() == ["关于“慢问题”的答复。"])
    # WeChat's retry after the timeout gets "success", never a second answer
    again = _post(h, "wxplain", wx_query(), text_xml(content="慢问题", msg_id="5004"))
    assert again.text == "success"
    assert len(h.bot.calls) == 1
    assert wechat_api.api.contents() == ["关于“慢问题”的答复。"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"MsgType": "image", "PicUrl": "http://x/y.jpg", "Content": ""}, "unsupported"),
        ({"MsgType": "location", "Content": ""}, "unsupported"),
        ({"MsgType": "voice", "Content": "", "Recognition": ""}, "unsupported"),
        ({"MsgType": "event", "Event": "subscribe", "Content": "", "MsgId": ""}, "welcome"),
        ({"MsgType": "event", "Event": "unsubscribe", "Content": "", "MsgId": ""}, None),
    ],
    ids=["image", "location", "voice-unrecognised", "subscribe", "unsubscribe"],
)
def test_other_messages_get_the_fixed_reply(
    harness: MakeHarness, extra: dict[str, str], expected: str | None
) -> None:
    h = harness()
    response = _post(h, "wxplain", wx_query(), text_xml(msg_id="5005", **extra))
    assert response.status_code == 200
    settings = WeChatSettings()
    if expected is None:
        assert response.text == "success"
    else:
        wanted = settings.welcome_reply if expected == "welcome" else settings.unsupported_reply
        assert _fields(response.text)["Content"] == wanted
    assert h.bot.calls == []


def test_recognised_voice_is_treated_as_text(harness: MakeHarness) -> None:
    h = harness()
    xml = text_xml(msg_id="5006", MsgType="voice", Content="", Recognition="社保卡丢了怎么办")
    response = _post(h, "wxplain", wx_query(), xml)
    assert _fields(response.text)["Content"] == "关于“社保卡丢了怎么办”的答复。"
    assert h.bot.calls[0].metadata["msg_type"] == "voice"


def test_mini_program_fixed_reply_goes_through_the_api(
    harness: MakeHarness, wechat_api: FakeWeChatServer
) -> None:
    h = harness()
    inner = json.dumps(
        {"ToUserName": "gh_mini", "FromUserName": OPENID, "CreateTime": 1, "MsgType": "image", "MsgId": 7002}
    )
    query, body = wx_push(inner, "wxmini", json_body=True)
    assert _post(h, "wxmini", query, body).text == "success"
    assert wait_until(lambda: wechat_api.api.contents() == [WeChatSettings().unsupported_reply])


def test_rate_limited_user_gets_the_busy_reply(harness: MakeHarness) -> None:
    h = harness(FakeOnMessage(error=RateLimitedError("session", 30)))
    response = _post(h, "wxplain", wx_query(), text_xml(msg_id="5007"))
    assert _fields(response.text)["Content"] == WeChatSettings().busy_reply


def test_busy_is_told_by_the_error_type_not_by_an_attribute(harness: MakeHarness) -> None:
    class LooksLimited(Exception):
        retry_after = 30

    h = harness(FakeOnMessage(error=LooksLimited()))
    response = _post(h, "wxplain", wx_query(), text_xml(msg_id="5090"))
    assert _fields(response.text)["Content"] == WeChatSettings().error_reply


def test_failing_bot_gets_the_error_reply(harness: MakeHarness) -> None:
    h = harness(FakeOnMessage(error=RuntimeError("index missing")))
    response = _post(h, "wxplain", wx_query(), text_xml(msg_id="5008"))
    assert _fields(response.text)["Content"] == WeChatSettings().error_reply


# -- long replies and options -----------------------------------------------------------------


def test_long_passive_reply_is_cut_with_a_link(harness: MakeHarness) -> None:
    long_text = "\n".join(f"第{i}条：申请人应当携带本人身份证原件及复印件。" for i in range(200))
    h = harness(FakeOnMessage(reply_text=long_text))
    response = _post(h, "wxsafe", *wx_push(text_xml(msg_id="5009"), "wxsafe"))
    content = _open_reply(response.text, "wxsafe")["Content"]
    assert len(content.encode()) <= 2048
    assert content.startswith("第0条：")
    assert content.endswith("…（内容较长，完整内容请见：https://zwfw.example.gov.cn）")


def test_long_api_reply_is_split_into_parts(harness: MakeHarness, wechat_api: FakeWeChatServer) -> None:
    long_text = "\n".join(f"第{i}条：申请人应当携带本人身份证原件及复印件。" for i in range(50))
    h = harness(FakeOnMessage(reply_text=long_text))
    inner = json.dumps(
        {"ToUserName": "g", "FromUserName": OPENID, "CreateTime": 1, "MsgType": "text", "Content": "长"}
        | {"MsgId": 7003}
    )
    _post(h, "wxmini", *wx_push(inner, "wxmini", json_body=True))
    assert wait_until(lambda: len(wechat_api.api.sent) == 2)
    first, second = wechat_api.api.contents()
    assert all(len(part.encode()) <= 2048 for part in (first, second))
    assert (first + "\n" + second).replace("\n", "") == long_text.replace("\n", "")


def test_clarify_options_render_as_a_numbered_list(harness: MakeHarness) -> None:
    options = [Option(id="a", title="居住证申领"), Option(id="b", title="居住证签注")]
    h = harness(FakeOnMessage(reply_text="您想办理哪一项？", options=options))
    content = _fields(_post(h, "wxplain", wx_query(), text_xml(msg_id="5010")).text)["Content"]
    assert content == "您想办理哪一项？\n请回复序号选择：\n1. 居住证申领\n2. 居住证签注"


# -- refusals: no on_message call, no outbox row, no dedupe record ------------------------------


def _refusals() -> list[tuple[str, str, dict[str, str], str, int]]:
    """(id, app, query, body, status) for requests that must be refused."""
    inner = text_xml(msg_id="6001")
    good_q, good_body = wx_push(inner, "wxsafe")
    cases: list[tuple[str, str, dict[str, str], str, int]] = []
    cases.append(("plain-bad-signature", "wxplain", {**wx_query(), "signature": "f" * 40}, inner, 401))
    cases.append(("plain-stale", "wxplain", wx_query(timestamp=PUSH_TIME - 4000), inner, 401))
    cases.append(("malformed-xml", "wxplain", wx_query(), "<xml><MsgType>text</xml", 400))
    cases.append(("not-xml-or-json", "wxplain", wx_query(), "hello", 400))
    cases.append(("malformed-json", "wxplain", wx_query(), '{"MsgType": ', 400))
    cases.append(("missing-fields", "wxplain", wx_query(), "<xml><MsgType>text</MsgType></xml>", 400))
    bomb = '<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>'
    cases.append(("entity", "wxplain", wx_query(), bomb, 400))
    cases.append(("safe-needs-encryption", "wxsafe", wx_query(), inner, 400))
    cases.append(("bad-msg-signature", "wxsafe", {**good_q, "msg_signature": "0" * 40}, good_body, 401))
    cases.append(("no-msg-signature", "wxsafe", {k: v for k, v in good_q.items() if k != "msg_signature"},
                  good_body, 401))  # fmt: skip
    q, body = wx_push(inner, "wxother")
    cases.append(("wrong-app-id", "wxsafe", q, body, 403))
    for name, envelope in [
        ("bad-base64", "@@@not-base64@@@"),
        ("bad-padding", wx_encrypt_raw(b"R" * 16 + (6).to_bytes(4, "big") + b"<xml/>" + b"\x00" * 6)),
        ("bad-length", wx_encrypt_raw(b"R" * 16 + (999).to_bytes(4, "big") + b"<xml/>" + b"\x06" * 6)),
        ("inner-not-xml", wx_encrypt("just text", "wxsafe")),
    ]:
        q = wx_query()
        q["encrypt_type"] = "aes"
        q["msg_signature"] = sha1_signature(TOKEN, q["timestamp"], q["nonce"], envelope)
        cases.append((name, "wxsafe", q, f"<xml><Encrypt><![CDATA[{envelope}]]></Encrypt></xml>", 400))
    plain_q = {**good_q}
    cases.append(("plain-app-gets-encrypted", "wxplain", plain_q, good_body, 400))
    return cases


REFUSALS = _refusals()


@pytest.mark.parametrize(
    ("app_id", "query", "body", "code"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS]
)
def test_refused_requests_leave_no_trace(
    harness: MakeHarness, app_id: str, query: dict[str, str], body: str, code: int
) -> None:
    h = harness()
    response = _post(h, app_id, query, body)
    assert response.status_code == code, response.text
    assert response.json()["detail"]
    assert h.bot.calls == []
    assert h.outbox_counts() == {}
    assert h.dedupe_rows() == 0
