"""The PII policy as a table: numbers as citizens really type them, and what must stay."""

from __future__ import annotations

import pytest

from core.privacy import mask_personal, mask_phone, pseudonym

PHONE = "13812345678"
ID18 = "11010519491231002X"

MASKED = [
    # (typed, must not survive, must appear)
    ("我的手机13812345678，请回电", PHONE, "138****5678"),
    ("电话+8613812345678", "12345678", "138****5678"),
    ("电话 +86 138 1234 5678", "1234 5678", "138****5678"),
    ("0086-13812345678", "12345678", "138****5678"),
    ("8613812345678", "12345678", "138****5678"),
    ("手机138 1234 5678谢谢", "1234 5678", "138****5678"),
    ("手机138-1234-5678", "1234-5678", "138****5678"),
    ("手机１３８１２３４５６７８", "１３８１２３４５６７８", "138****5678"),
    ("GET /api?q=%e5%8f%b713812345678 HTTP/1.1", PHONE, "%b7138****5678"),
    ('{"text": "\\u53f713812345678"}', PHONE, "138****5678"),
    ("input_value='13812345678'", PHONE, "'138****5678'"),
    ("[parameters: {'phone': '13812345678'}]", PHONE, "'138****5678'"),
    ("身份证11010519491231002X", ID18, "110105********002X"),
    ("身份证11010519491231002x。", "11010519491231002x", "110105********002x"),
    ("身份证 110105 19491231 002X", "19491231", "110105********002X"),
    ("身份证１１０１０５１９４９１２３１００２Ｘ", "１９４９１２３１", "110105********002X"),
    ("老身份证110105491231002号", "110105491231002", "110105******002"),
    ("卡号6222021234567890123", "6222021234567890123", "6222***********0123"),
    ("卡号 6222 0212 3456 7890", "0212 3456", "6222********7890"),
    ("卡号6222-0212-3456-7890-123", "0212-3456", "6222***********0123"),
    ("车牌粤A12345被剐", "粤A12345", "粤A***45"),
    ("车牌京A·12345", "A·12345", "京A***45"),
    ("车牌粤AD12345新能源", "AD12345", "粤A***45"),
    ("车牌粤a12345", "a12345", "粤A***45"),
    (
        "POST /wechat/wx1?signature=ab&openid=oAbCdEfGhIjKlMnOpQrStUvWx123 HTTP/1.1",
        "oAbCdEfGhIj",
        "openid=u:",
    ),
    ('{"touser": "oAbCdEfGhIjKlMnOpQrStUvWx123"}', "oAbCdEfGhIj", '"touser": "u:'),
]


@pytest.mark.parametrize(("typed", "secret", "shown"), MASKED)
def test_masked_as_typed(typed: str, secret: str, shown: str) -> None:
    masked = mask_personal(typed)
    assert secret not in masked
    assert shown in masked


KEPT = [
    "工单20261123-0042已受理",
    "工单20261123-0042 20261123-0043",
    "热线12345，办公电话020-83133333",
    "2026-12-01 08:30:00 共 42 件",
    "苏ABCDE",
    "请求耗时 1764633201123 毫秒",
    "订单号 12345678901234",
]


@pytest.mark.parametrize("text", KEPT)
def test_other_numbers_kept(text: str) -> None:
    assert mask_personal(text) == text


def test_mask_phone_field() -> None:
    assert mask_phone(PHONE) == "138****5678"
    assert mask_phone("020-12345678") == "020****5678"


def test_pseudonym_is_stable_and_hides_the_id() -> None:
    openid = "oAbCdEfGhIjKlMnOpQrStUvWx123"
    assert pseudonym(openid) == pseudonym(openid)
    assert openid not in pseudonym(openid)
    assert pseudonym(openid) != pseudonym(openid + "4")
