"""What the index keeps of each knowledge item: enough to rank and cite, not the whole record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from knowledge.vectors import vector_key


@dataclass
class IndexRecord:
    id: str
    kind: str
    title: str
    parent: str | None
    content_hash: str
    names: list[str] = field(default_factory=list)  # title and aliases, for fuzzy matching
    lexical: list[str] = field(default_factory=list)  # BM25 terms, stored to avoid re-tokenising
    dense_views: list[str] = field(default_factory=list)  # embedded and averaged

    def vector_key(self) -> str:
        """What the vector depends on: only the embedded texts, not every field."""
        return vector_key(self.dense_views)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IndexRecord:
        return cls(**data)
