"""What the index keeps of each knowledge item: enough to rank and cite, not the whole record."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
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
        # by hand: dataclasses.asdict deep-copies every term list, the slowest part of a save
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "parent": self.parent,
            "content_hash": self.content_hash,
            "names": self.names,
            "lexical": self.lexical,
            "dense_views": self.dense_views,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IndexRecord:
        """The record; its terms interned: json.loads makes a new string for every occurrence of
        a term, and those copies were most of a loaded index's memory (docs/benchmarks.md 16)."""
        record = cls(**data)
        record.lexical = list(map(sys.intern, record.lexical))
        return record

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False)

    @classmethod
    def reuse(cls, stored: str | None, content_hash: str) -> IndexRecord | None:
        """A stored record (JSON) when it was made from this content, else None."""
        if not stored:
            return None
        record = cls.from_json(json.loads(stored))
        return record if record.content_hash == content_hash else None
