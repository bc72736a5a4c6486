"""Rule entities: patterns for numbers and dates, a phrase index for names, rapidfuzz for items.

Items: only the names whose character bound (nlu.charindex) reaches the score
threshold are given to rapidfuzz, in their order, so the match is the one a pass
over every name finds, at the cost of the text's character postings.

Districts and departments come from the lookup tables in nlu.yml through
nlu.phrases.PhraseIndex (the spans spaCy's EntityRuler gave, without importing
spaCy); numbers are found by pattern and validated (ID card checksum).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from core.component_settings import RuleEntityExtractorOptions
from nlu.charindex import ROUNDING, CharIndex
from nlu.fields import load_field_words, subject_left
from nlu.message import Entity, ParsedMessage
from nlu.phrases import PhraseIndex
from nlu.validators import is_valid_id_card, is_valid_phone

_CN_DIGITS = "零一二三四五六七八九十"

_CHECKS: dict[str, Callable[[str], bool]] = {"id_card": is_valid_id_card, "phone": is_valid_phone}
"""Validation after a pattern matched: the ID card checksum, the phone number plan (short
service numbers such as 12345 pass as they are)."""


def compile_patterns(regexes: dict[str, list[str]]) -> list[tuple[str, re.Pattern[str]]]:
    """nlu.yml's `regex:` blocks as (entity, pattern), in file order; an entity's lines are
    alternatives. Raises ValueError naming the entity whose pattern does not compile."""
    compiled = []
    for name, alternatives in regexes.items():
        try:
            compiled.append((name, re.compile("|".join(alternatives))))
        except re.error as exc:
            raise ValueError(f"nlu.yml regex {name!r}: {exc}") from exc
    return compiled


def _normal_date(text: str) -> str:
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?", text)
    if match:
        y, m, d = (int(g) for g in match.groups())
        return f"{y:04d}-{m:02d}-{d:02d}"
    return text


class RuleEntityExtractor:
    """Pipeline stage: fills `entities` with Rasa-shaped spans of the normalised text."""

    def __init__(
        self,
        options: RuleEntityExtractorOptions,
        lookups: dict[str, list[str]],
        items: dict[str, str],
        patterns: list[tuple[str, re.Pattern[str]]],
    ) -> None:
        self.min_item_score = options.fuzzy_item_min_score
        self.patterns = patterns
        self._lookups = lookups
        self._items = items  # name or alias -> item id
        self._item_names = list(items)
        self._item_chars: CharIndex | None = None
        self._phrases: PhraseIndex | None = None
        self._field_words = [w for words in load_field_words().values() for w in words]

    @classmethod
    def create(cls, options: RuleEntityExtractorOptions, resources: Any) -> RuleEntityExtractor:
        data = resources.nlu_data
        lookups = {k: v for k, v in data.lookups.items() if k in ("district", "department")}
        return cls(options, lookups, resources.item_names(), compile_patterns(data.regexes))

    def _phrase_index(self) -> PhraseIndex:
        """Built on first use, after the tokenizer stage has taught jieba the domain words."""
        if self._phrases is None:
            self._phrases = PhraseIndex(self._lookups)
        return self._phrases

    def _pattern_entities(self, text: str) -> list[Entity]:
        found: list[Entity] = []
        taken: list[tuple[int, int]] = []
        for name, pattern in self.patterns:
            check = _CHECKS.get(name)
            for match in pattern.finditer(text):
                start, end = match.span()
                if any(s < end and start < e for s, e in taken):
                    continue
                value = match.group(0)
                if check is not None and len(value) > 5 and not check(value):
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
            self._item_shortlist(text),
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

    def _item_shortlist(self, text: str) -> list[str]:
        """The item names, in order, whose partial_ratio with `text` may reach the threshold."""
        if self._item_chars is None:
            self._item_chars = CharIndex(self._item_names)
        shared = self._item_chars.shared(text)
        bound = self._item_chars.partial_bound(text, shared) + ROUNDING
        return [self._item_names[i] for i in np.flatnonzero((shared > 0) & (bound >= self.min_item_score))]

    def process(self, message: ParsedMessage) -> None:
        text = message.text
        entities = self._pattern_entities(text)
        entities += self._lookup_entities(text)
        entities += self._item_entities(text)
        message.entities = sorted(entities, key=lambda e: (e.start, e.end))
