"""Message bodies and text fitting: parsing, CDATA escaping, byte limits, numbered options."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from defusedxml import ElementTree as SafeET

from bot.messages import BotReply, Option
from connectors.wechat.messages import (
    Inbound,
    MessageError,
    fit_text,
    parse_body,
    render_reply,
    split_text,
    text_reply_xml,
)
from tests.connectors.conftest import Harness, wx_query
from tests.utils.wechat import text_xml


def test_parse_xml_and_json_alike() -> None:
    xml_fields, xml_format = parse_body(text_xml(content="你好", msg_id="1").encode())
    json_fields, json_format = parse_body(
        b'{"ToUserName": "gh", "FromUserName": "o", "CreateTime": 1, "MsgType": "text", "MsgId": 1, "x": 1.5}'
    )
    assert (xml_format, json_format) == ("xml", "json")
    assert xml_fields["Content"] == "你好"
    assert json_fields["MsgId"] == "1"
    assert "x" not in json_fields  # floats, booleans and nested values are not message fields
    assert Inbound.from_fields(json_fields).dedupe_id == "msg:1"


@pytest.mark.parametrize("body", [b"", b"[1, 2]", b"<root><a>1</a></root>", b"\xff\xfe{", b"<xml><a></xml>"])
def test_parse_refuses_what_is_not_a_message(body: bytes) -> None:
    with pytest.raises(MessageError):
        parse_body(body)


def test_create_time_must_be_a_number() -> None:
    fields = {"ToUserName": "a", "FromUserName": "b", "CreateTime": "yesterday", "MsgType": "text"}
    with pytest.raises(MessageError, match="CreateTime"):
        Inbound.from_fields(fields)


def test_reply_xml_escapes_cdata_terminators() -> None:
    xml = text_reply_xml(to_user="o", from_user="gh", content="a]]>b<c>&", create_time=1)
    assert SafeET.fromstring(xml).findtext("Content") == "a]]>b<c>&"


def test_fit_text_respects_bytes_and_character_boundaries() -> None:
    text = "办" * 1000  # 3000 bytes
    fitted = fit_text(text, 2048, "https://x.cn")
    assert len(fitted.encode()) <= 2048
    assert fitted.endswith("…（内容较长，完整内容请见：https://x.cn）")
    assert set(fitted.split("\n")[0]) == {"办"}
    assert fit_text("短文本", 2048) == "短文本"
    assert fit_text(text, 300).endswith("…（内容较长，已省略部分内容）")


def test_split_prefers_line_breaks() -> None:
    lines = [f"{i:02d}" + "材料" * 30 for i in range(40)]  # 40 lines of 182 bytes
    parts = split_text("\n".join(lines), 1000, 10)
    assert all(len(p.encode()) <= 1000 for p in parts)
    assert [line for p in parts for line in p.split("\n")] == lines


def test_split_cuts_the_last_part_when_parts_run_out() -> None:
    parts = split_text("办" * 3000, 1000, 2, "https://x.cn")
    assert len(parts) == 2
    assert parts[1].endswith("https://x.cn）")


def test_options_already_listed_are_not_repeated() -> None:
    options = [Option(id="a", title="居住证申领"), Option(id="b", title="居住证签注")]
    listed = BotReply(
        action="clarify", intent="i", reply="请选择：\n1. 居住证申领\n2. 居住证签注", options=options
    )
    assert render_reply(listed) == listed.reply


def test_logs_never_carry_the_citizens_words(
    harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = harness()
    with caplog.at_level(logging.DEBUG, logger="connectors.wechat"):
        xml = text_xml(content="我的电话13812345678，身份证440106199001011234", msg_id="3131")
        response = h.client.post("/connectors/wechat/wxplain", params=wx_query(), content=xml.encode())
    assert response.status_code == 200
    events = [r.getMessage() for r in caplog.records if r.name.startswith("connectors.wechat")]
    assert "wechat.message.received" in events
    for record in caplog.records:
        assert "13812345678" not in str(record.__dict__)
        assert "440106199001011234" not in str(record.__dict__)
