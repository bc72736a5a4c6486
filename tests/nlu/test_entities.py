"""RuleEntityExtractor through the assistant's own pipeline: type, value and offsets."""

from __future__ import annotations

import itertools

import pytest

from bot.assistant import Assistant
from nlu.message import ParsedMessage
from tests.nlu.test_validators import make_id

VALID_ID = make_id("440106", "19900307", "123")
BAD_CHECKSUM_ID = VALID_ID[:-1] + ("0" if VALID_ID[-1] != "0" else "1")


def _spans(message: ParsedMessage, entity: str) -> list[tuple[str, int, int]]:
    return [(e.value, e.start, e.end) for e in message.entities if e.entity == entity]


@pytest.mark.parametrize(
    ("text", "entity", "value", "start", "end"),
    [
        pytest.param("我的电话是13812345678", "phone", "13812345678", 5, 16, id="mobile"),
        pytest.param("电话１３８１２３４５６７８", "phone", "13812345678", 2, 13, id="full-width-mobile"),
        pytest.param("020-12345678打不通", "phone", "020-12345678", 0, 12, id="landline"),
        pytest.param(f"身份证号{VALID_ID}", "id_card", VALID_ID, 4, 22, id="id-card-valid"),
        pytest.param("工单号20261123000042", "ticket_no", "20261123000042", 3, 17, id="ticket-no"),
        pytest.param("我2026年11月23日去办", "date", "2026-11-23", 1, 12, id="date-cn"),
        pytest.param("2026/1/5可以办吗", "date", "2026-01-05", 0, 8, id="date-slash"),
        pytest.param("明天下午3点能去吗", "date", "明天", 0, 2, id="relative-date"),
        pytest.param("明天下午3点能去吗", "time", "下午3点", 2, 6, id="time"),
        pytest.param("我在天河区", "district", "天河区", 2, 5, id="district"),
        pytest.param("去公安局办", "department", "公安局", 1, 4, id="department"),
        pytest.param(
            "我想办居民身份证到期换领", "service_item", "id-card-renew", 3, 12, id="service-item-name"
        ),
        pytest.param("换身份证要多久", "service_item", "id-card-renew", 0, 4, id="service-item-alias"),
    ],
)
def test_rule_entities(
    assistant: Assistant, text: str, entity: str, value: str, start: int, end: int
) -> None:
    """The entity is found with its normalised value and offsets into the normalised text."""
    message = assistant.parse(text)
    assert (value, start, end) in _spans(message, entity), message.entities
    found = next(e for e in message.entities if e.entity == entity and e.start == start)
    assert message.text[start:end] == found.text


def test_id_card_with_bad_checksum_is_not_an_entity(assistant: Assistant) -> None:
    """An 18-digit number that fails GB 11643 is no ID card, nor a phone or ticket number."""
    message = assistant.parse(f"身份证号{BAD_CHECKSUM_ID}")
    assert message.entities == [] or all(
        e.entity not in ("id_card", "phone", "ticket_no") for e in message.entities
    )


def test_several_entities_in_one_sentence_are_ordered(assistant: Assistant) -> None:
    """Entities come back sorted by position and do not overlap."""
    message = assistant.parse("下周一上午十点去天河区公安局办港澳通行证，电话13812345678")
    kinds = [e.entity for e in message.entities]
    for wanted in ("date", "time", "district", "department", "phone"):
        assert wanted in kinds
    starts = [e.start for e in message.entities]
    assert starts == sorted(starts)
    pattern_spans = [(e.start, e.end) for e in message.entities if e.extractor == "regex"]
    for (s1, e1), (s2, _) in itertools.pairwise(pattern_spans):
        assert e1 <= s2 or s1 == s2


def test_entities_have_rasa_shape(assistant: Assistant) -> None:
    """as_dict gives Rasa's entity keys."""
    message = assistant.parse("我的电话是13812345678")
    assert message.entities[0].as_dict() == {
        "entity": "phone",
        "value": "13812345678",
        "start": 5,
        "end": 16,
        "extractor": "regex",
    }


def test_no_entities_in_plain_question(assistant: Assistant) -> None:
    """A question without numbers, places or item names yields no pattern entities."""
    message = assistant.parse("请问怎么办")
    assert [e for e in message.entities if e.extractor != "rapidfuzz"] == []


@pytest.mark.parametrize("text", ["需要什么材料", "要什么材料"])
def test_bare_field_question_mentions_no_service_item(assistant: Assistant, text: str) -> None:
    """需要什么材料 names a field, not an item: no service_item entity."""
    assert assistant.parse(text).first("service_item") is None


def test_item_shortlist_finds_what_a_pass_over_every_name_finds() -> None:
    """Only names whose character bound reaches the threshold go to rapidfuzz; the match (and
    the first of equal ones) is the one extractOne over all names returns."""
    import random

    from rapidfuzz import fuzz, process

    from core.component_settings import RuleEntityExtractorOptions
    from nlu.entities import RuleEntityExtractor

    rng = random.Random(5)
    alphabet = "身份证补办换领护照港澳通行签注社保医疗养老保险广州市越秀区天河申请"
    names = list(dict.fromkeys("".join(rng.choices(alphabet, k=rng.randint(2, 10))) for _ in range(3000)))
    options = RuleEntityExtractorOptions()
    extractor = RuleEntityExtractor(options, {}, {n: f"id-{i}" for i, n in enumerate(names)}, [])
    texts = ["".join(rng.choices(alphabet, k=rng.randint(2, 16))) for _ in range(200)]
    found = 0
    for text in texts:
        everything = process.extractOne(
            text, names, scorer=fuzz.partial_ratio, score_cutoff=options.fuzzy_item_min_score, processor=None
        )
        shortlist = process.extractOne(
            text,
            extractor._item_shortlist(text),
            scorer=fuzz.partial_ratio,
            score_cutoff=options.fuzzy_item_min_score,
            processor=None,
        )
        assert (everything and everything[:2]) == (shortlist and shortlist[:2]), text
        found += everything is not None
    assert found > 20  # the comparison covered matches, not only misses
