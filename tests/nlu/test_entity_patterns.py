"""The number and date patterns are declared once, in nlu.yml's `regex:` blocks (Rasa's
convention), and the entity extractor uses exactly those: change the file, change what is found."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from core.component_settings import RuleEntityExtractorOptions
from nlu.entities import RuleEntityExtractor
from nlu.message import ParsedMessage
from nlu.training_data import NluData, load_nlu

NLU_FILE = Path(__file__).resolve().parents[2] / "nlu" / "data" / "nlu.yml"


@dataclass
class Resources:
    """The two things RuleEntityExtractor.create reads (nlu.pipeline.NluResources)."""

    nlu_data: NluData
    items: dict[str, str] = field(default_factory=dict)

    def item_names(self) -> dict[str, str]:
        return self.items


def _found(extractor: RuleEntityExtractor, text: str) -> list[tuple[str, str]]:
    message = ParsedMessage(raw=text, text=text)
    extractor.process(message)
    return [(e.entity, e.value) for e in message.entities]


def test_the_extractor_uses_the_patterns_nlu_yml_declares() -> None:
    declared = load_nlu(NLU_FILE).regexes
    extractor = RuleEntityExtractor.create(RuleEntityExtractorOptions(), Resources(load_nlu(NLU_FILE)))
    assert [(name, p.pattern) for name, p in extractor.patterns] == [
        (name, "|".join(lines)) for name, lines in declared.items()
    ]
    assert list(declared) == ["id_card", "ticket_no", "phone", "date", "time"]  # tried in this order


def test_a_changed_declaration_changes_what_is_found() -> None:
    data = NluData(regexes={"phone": [r"(?<!\d)1[3-9]\d{9}(?!\d)"], "postcode": [r"(?<!\d)51\d{4}(?!\d)"]})
    extractor = RuleEntityExtractor.create(RuleEntityExtractorOptions(), Resources(data))
    text = "打12345或13812345678，邮编510000，明天去"
    assert _found(extractor, text) == [("phone", "13812345678"), ("postcode", "510000")]
    served = RuleEntityExtractor.create(RuleEntityExtractorOptions(), Resources(load_nlu(NLU_FILE)))
    assert _found(served, text) == [("phone", "12345"), ("phone", "13812345678"), ("date", "明天")]


def test_validation_still_applies_to_declared_patterns() -> None:
    extractor = RuleEntityExtractor.create(RuleEntityExtractorOptions(), Resources(load_nlu(NLU_FILE)))
    assert _found(extractor, "电话13812345678") == [("phone", "13812345678")]
    assert _found(extractor, "身份证110101199003070000") == []  # bad checksum


def test_a_broken_pattern_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="'phone'"):
        RuleEntityExtractor.create(
            RuleEntityExtractorOptions(), Resources(NluData(regexes={"phone": [r"(?<!\d1[3-9]"]}))
        )
