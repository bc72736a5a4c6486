"""normalize_text and the Normalizer stage: one canonical form before anything else."""

from __future__ import annotations

import pytest

from core.component_settings import NormalizerOptions
from nlu.message import ParsedMessage
from nlu.normalize import Normalizer, normalize_text

CASES = [
    pytest.param("ＡＢＣ１２３", "ABC123", id="full-width-alnum"),
    pytest.param("１２３４５", "12345", id="full-width-digits"),
    pytest.param("護照過期了怎麼換", "护照过期了怎么换", id="traditional-to-simplified"),
    pytest.param("😀😀🎉", "", id="emoji-only"),
    pytest.param("👍🏻👍", "", id="emoji-with-modifier"),
    pytest.param("补办\x00身份证\x07\u200b", "补办身份证", id="control-and-zero-width"),
    pytest.param("\ufeff你好\u202e", "你好", id="bom-and-bidi"),
    pytest.param("嗯嗯，我想办身份证呃", "我想办身份证", id="asr-fillers"),
    pytest.param("身份证丢了啊", "身份证丢了", id="trailing-particle"),
    pytest.param("  补办   身份证 \n\t 材料 ", "补办 身份证 材料", id="whitespace-collapsed"),
    pytest.param("怎么办？？？！！", "怎么办?!", id="punctuation-runs"),
    pytest.param("", "", id="empty"),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_normalize_text(raw: str, expected: str) -> None:
    """Each rule yields the canonical form."""
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [c.values[0] for c in CASES] + ["呃，那个那个，我想问一下護照", "Ｈｅｌｌｏ　ｗｏｒｌｄ　😀　嗯"],
)
def test_normalize_text_is_idempotent(raw: str) -> None:
    """Normalising twice changes nothing."""
    once = normalize_text(str(raw))
    assert normalize_text(once) == once


def test_normalizer_truncates_long_input() -> None:
    """20,000 characters are cut to max_chars and the message says it was truncated."""
    stage = Normalizer.create(NormalizerOptions(max_chars=2000), None)
    message = ParsedMessage(raw=("补办身份证需要什么材料" * 2000)[:20_000])
    stage.process(message)
    assert message.truncated is True
    assert len(message.text) == 2000
    assert message.text.startswith("补办身份证需要什么材料")


def test_normalizer_leaves_short_input_untruncated() -> None:
    """A normal question keeps every character and no truncation flag."""
    stage = Normalizer.create(NormalizerOptions(), None)
    message = ParsedMessage(raw="護照過期了怎麼換")
    stage.process(message)
    assert message.truncated is False
    assert message.text == "护照过期了怎么换"


def test_normalizer_truncates_when_normalised_text_is_long() -> None:
    """Input just under the raw cut but over max_chars after normalising is still capped."""
    stage = Normalizer.create(NormalizerOptions(max_chars=10), None)
    message = ParsedMessage(raw="一二三四五六七八九十十一")
    stage.process(message)
    assert message.truncated is True
    assert message.text == "一二三四五六七八九十"
