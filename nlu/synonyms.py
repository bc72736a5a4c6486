"""Colloquial names reach the official ones (驾照 -> 机动车驾驶证), from data, not code."""

from __future__ import annotations

import re
from typing import Any

from core.component_settings import SynonymMapperOptions
from nlu.message import ParsedMessage


class SynonymMapper:
    """Pipeline stage: records colloquial->official pairs and builds `search_text`.

    The official name is appended rather than substituted, so the citizen's own
    words still count for retrieval.
    """

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = {k.lower(): v for k, v in mapping.items() if k}
        keys = sorted(self.mapping, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(k) for k in keys)) if keys else None

    @classmethod
    def create(cls, options: SynonymMapperOptions, resources: Any) -> SynonymMapper:
        return cls(resources.nlu_data.synonym_map())

    def expand(self, text: str) -> tuple[str, dict[str, str]]:
        found: dict[str, str] = {}
        if self._pattern is not None:
            for match in self._pattern.finditer(text.lower()):
                official = self.mapping[match.group(0)]
                if official not in text:
                    found[match.group(0)] = official
        extra = " ".join(dict.fromkeys(found.values()))
        return (f"{text} {extra}" if extra else text), found

    def process(self, message: ParsedMessage) -> None:
        message.search_text, message.synonyms = self.expand(message.text)
