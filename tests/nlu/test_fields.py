"""FieldDetector: which field of an item a question asks about, in order of appearance."""

from __future__ import annotations

import pytest

from nlu.fields import FieldDetector, load_field_words
from nlu.message import ParsedMessage


@pytest.fixture(scope="module")
def detector() -> FieldDetector:
    return FieldDetector(load_field_words())


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("需要什么材料", "materials"),
        ("补办身份证要带什么", "materials"),
        ("在哪里办", "location"),
        ("多少钱", "fees"),
        ("咨询电话是多少", "phone_enquiry"),
        ("办理流程是怎样的", "steps"),
        ("网上能办吗", "online_url"),
    ],
)
def test_first_field(detector: FieldDetector, text: str, first: str) -> None:
    assert detector.detect(text)[0] == first


def test_fields_follow_the_order_of_the_question(detector: FieldDetector) -> None:
    assert detector.detect("需要什么材料，在哪里办")[:2] == ["materials", "location"]
    assert detector.detect("办理地点和需要什么材料")[:2] == ["location", "materials"]


def test_no_field_words(detector: FieldDetector) -> None:
    assert detector.detect("你好") == []


def test_process_fills_message(detector: FieldDetector) -> None:
    message = ParsedMessage(raw="要带什么", text="要带什么")
    detector.process(message)
    assert message.fields == ["materials"]
