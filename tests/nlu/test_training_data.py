"""Rasa nlu.yml read and written: intents with annotations, synonyms, lookups, regexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.training_data import NluData, dump_nlu, load_nlu, strip_annotations
from tests.utils.factories import write

SMALL_NLU = r"""version: "3.1"
nlu:
- intent: ask_service
  examples: |
    - 在[天河区](district)怎么办身份证
    - 补办驾照
- intent: greet
  examples: |
    - 你好
- synonym: 机动车驾驶证
  examples: |
    - 驾照
    - 驾驶本
- lookup: district
  examples: |
    - 天河区
    - 越秀区
- regex: ticket_no
  examples: |
    - 20\d{12}
"""


@pytest.fixture
def small_nlu(tmp_path: Path) -> Path:
    return write(tmp_path / "nlu.yml", SMALL_NLU)


def test_load_nlu_reads_every_block(small_nlu: Path) -> None:
    data = load_nlu(small_nlu)
    assert data.intents == {"ask_service": ["在天河区怎么办身份证", "补办驾照"], "greet": ["你好"]}
    assert data.synonyms == {"机动车驾驶证": ["驾照", "驾驶本"]}
    assert data.lookups == {"district": ["天河区", "越秀区"]}
    assert data.regexes == {"ticket_no": [r"20\d{12}"]}
    assert data.synonym_map() == {"驾照": "机动车驾驶证", "驾驶本": "机动车驾驶证"}


def test_dump_and_load_round_trip(small_nlu: Path, tmp_path: Path) -> None:
    """What dump_nlu writes, load_nlu reads back unchanged."""
    first = load_nlu(small_nlu)
    again = load_nlu(write(tmp_path / "again.yml", dump_nlu(first)))
    assert again == first


def test_strip_annotations() -> None:
    assert strip_annotations("在[天河区](district)的[公安局](department)") == "在天河区的公安局"


def test_merge_and_first_synonym_wins() -> None:
    data = NluData(synonyms={"居民身份证": ["身份证"]})
    data.merge(NluData(synonyms={"公民身份号码": ["身份证"]}, intents={"greet": ["你好"]}))
    assert data.synonym_map()["身份证"] == "居民身份证"
    assert data.intents == {"greet": ["你好"]}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("nlu:\n- intent: greet\n  examples: [unclosed\n", "invalid YAML"),
        ("version: '3.1'\nrules: []\n", "nlu:"),
        ("- just a list\n", "nlu:"),
    ],
)
def test_malformed_nlu_names_the_file(tmp_path: Path, content: str, reason: str) -> None:
    path = write(tmp_path / "broken_nlu.yml", content)
    with pytest.raises(ValueError, match=reason) as excinfo:
        load_nlu(path)
    assert "broken_nlu.yml" in str(excinfo.value)
