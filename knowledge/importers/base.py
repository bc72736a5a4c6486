"""What every importer returns: the good records and a precise error per bad one.

Importers never write anything themselves; the caller stores the good records
in one transaction, so a malformed file costs only its bad records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from knowledge.models import FAQ, PolicyChunk, ServiceGuide

Item = ServiceGuide | FAQ | PolicyChunk


@dataclass(frozen=True)
class RecordError:
    """One rejected record: where it was and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class ImportResult:
    items: list[Item] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    merged_duplicates: int = 0

    def extend(self, other: ImportResult) -> None:
        self.items.extend(other.items)
        self.errors.extend(other.errors)
        self.merged_duplicates += other.merged_duplicates


class ImportFormatError(Exception):
    """The file as a whole cannot be read in the requested format."""


def explain_validation(error: ValidationError) -> str:
    """A one-line reason from pydantic's error list, naming the fields."""
    parts = []
    for err in error.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


Importer = Callable[[Path], ImportResult]
