"""Options shared by the importers, filled from the CLI and config.yml."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImportOptions:
    # JSONL field mapping: our field name -> the source record's key.
    field_map: dict[str, str] = field(default_factory=dict)
    chunk_chars: int = 400
    chunk_overlap: int = 60
    sample: bool = False
