"""Rule entities: patterns for numbers and dates, a phrase index for names, rapidfuzz for items.

Districts and departments come from the lookup tables in nlu.yml through
nlu.phrases.PhraseIndex (the spans spaCy's EntityRuler gave, without importing
spaCy); numbers are found by pattern and validated (ID card checksum).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from nlu.fields import load_field_words, subject_left
from nlu.message import Entity, ParsedMessage
from nlu.phrases import PhraseIndex
from nlu.validators import is_valid_id_card, is_valid_phone

_CN_DIGITS = "零一二三四五六七八九十"

_PATTERNS: list[tuple[str, re.Pattern[str], Callable[[str], bool] | None]] = [
    ("id_card", re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])"), is_valid_id_card),
    (
        "ticket_no",
        re.compile(r"(?<![\d-])20\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:-\d{4}|\d{6})(?!\d)"),
        None,
    ),
    (
        "phone",
        re.compile(r"(?<!\d)(?:1[3-9]\d{9}|0\d{2,3}-\d{7,8}|12345|12329|12333|12366)(?!\d)"),
        None,
    ),
    (
        "date",
        re.compile(
            r"(?:\d{4}年)?\d{1,2}月\d{1,2}[日号]|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
            r"|(?:大前|前|昨|今|明|后|大后)天|(?:上|这|本|下)(?:个)?(?:周|星期|礼拜)[一二三四五六日天]?"
            r"|(?:上|这|本|下)个?月|(?:去|今|明)年"
        ),
        None,
    ),
    (
        "time",
        re.compile(
            r"(?:凌晨|早上|上午|中午|下午|傍晚|晚上|夜里)?(?:\d{1,2}|[一二三四五六七八九十]{1,3})[点时](?:半|\d{1,2}分)?"
            r"|\d{1,2}:\d{2}"
        ),
        None,
    ),
]


def _normal_date(text: str) -> str:
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?", text)
    if match:
        y, m, d = (int(g) for g in match.groups())
        return f"{y:04d}-{m:02d}-{d:02d}"
    return text


class RuleEntityExtractor:
    """Pipeline stage: fills `entities` with Rasa-shaped spans of the normalised text."""

    @staticmethod
    def default_config() -> dict[str, Any]:
        return {"fuzzy_item_min_score": 88}  # rapidfuzz partial score for a service-item mention

    def __init__(self, config: dict[str, Any], lookups: dict[str, list[str]], items: dict[str, str]) -> None:
        self.min_item_score = float(config["fuzzy_item_min_score"])
        self._lookups = lookups
        self._items = items  # name or alias -> item id
        self._item_names = list(items)
        self._phrases: PhraseIndex | None = None
        self._field_words = [w for words in load_field_words().values() for w in words]

    @classmethod
    def create(cls, config: dict[str, Any], resources: Any) -> RuleEntityExtractor:
        lookups = {k: v for k, v in resources.nlu_data.lookups.items() if k in ("district", "department")}
        return cls({**cls.default_config(), **config}, lookups, resources.item_names())

    def _phrase_index(self) -> PhraseIndex:
        """Built on first use, after the tokenizer stage has taught jieba the domain words."""
        if self._phrases is None:
            self._phrases = PhraseIndex(self._lookups)
        return self._phrases

    def _pattern_entities(self, text: str) -> list[Entity]:
        found: list[Entity] = []
        taken: list[tuple[int, int]] = []
        for name, pattern, check in _PATTERNS:
            for match in pattern.finditer(text):
                start, end = match.span()
                if any(s < end and start < e for s, e in taken):
                    continue
                value = match.group(0)
                if check is not None and not check(value):
                    continue
                if name == "phone" and len(value) > 5 and not is_valid_phone(value):
                    continue
                if name == "date":
                    value = _normal_date(value)
                found.append(Entity(name, value, start, end, "regex", match.group(0)))
                taken.append((start, end))
        return found

    def _lookup_entities(self, text: str) -> list[Entity]:
        if not self._lookups or not text:
            return []
        return [
            Entity(m.label, text[m.start : m.end], m.start, m.end, "EntityRuler", text[m.start : m.end])
            for m in self._phrase_index().find(text)
        ]

    def _item_entities(self, text: str) -> list[Entity]:
        if not self._item_names or len(text) < 2:
            return []
        if not subject_left(text, self._field_words):
            return []  # 需要什么材料？ names a field only; any item "found" would be a fragment match
        from rapidfuzz import fuzz, process

        best = process.extractOne(
            text,
            self._item_names,
            scorer=fuzz.partial_ratio,
            score_cutoff=self.min_item_score,
            processor=None,
        )
        if best is None:
            return []
        name = best[0]
        if len(name) < 2 or len(name) > len(text) + 4:
            return []
        alignment = fuzz.partial_ratio_alignment(name, text)
        start, end = (alignment.dest_start, alignment.dest_end) if alignment else (0, len(text))
        return [Entity("service_item", self._items[name], start, end, "rapidfuzz", text[start:end])]

    def process(self, message: ParsedMessage) -> None:
        text = message.text
        entities = self._pattern_entities(text)
        entities += self._lookup_entities(text)
        entities += self._item_entities(text)
        message.entities = sorted(entities, key=lambda e: (e.start, e.end))
