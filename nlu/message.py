"""The message that flows through the NLU pipeline, filled in stage by stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Entity:
    """A span of the normalised text, in Rasa's entity shape."""

    entity: str
    value: str
    start: int
    end: int
    extractor: str
    text: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "extractor": self.extractor,
        }


@dataclass
class ParsedMessage:
    raw: str
    text: str = ""  # normalised text; entity offsets refer to it
    truncated: bool = False
    tokens: list[str] = field(default_factory=list)
    search_text: str = ""  # text with official names added for retrieval
    synonyms: dict[str, str] = field(default_factory=dict)  # colloquial -> official
    entities: list[Entity] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)  # item fields the user asks about
    subject: str = ""  # what the question is about once field and function words are gone
    intent: str = ""
    intent_confidence: float = 0.0
    intent_ranking: list[tuple[str, float]] = field(default_factory=list)
    category: str | None = None
    category_confidence: float = 0.0
    embedding: Any = None  # query vector, shared by classifiers and retrieval

    def first(self, entity: str) -> Entity | None:
        return next((e for e in self.entities if e.entity == entity), None)

    def parse_result(self) -> dict[str, Any]:
        """Rasa's /model/parse shape."""
        return {
            "text": self.text,
            "intent": {"name": self.intent, "confidence": round(self.intent_confidence, 4)},
            "intent_ranking": [{"name": n, "confidence": round(c, 4)} for n, c in self.intent_ranking],
            "entities": [e.as_dict() for e in self.entities],
        }
