"""What every importer returns: the good records and a precise error per bad one.

Importers never write anything themselves; the caller stores the good records
in one transaction, so a malformed file costs only its bad records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from knowledge.models import FAQ, IMPORTABLE, PolicyChunk, ServiceGuide

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
    # Source keys that are none of our fields, with how many records held them.
    dropped: Counter[str] = field(default_factory=Counter)

    def extend(self, other: ImportResult) -> None:
        self.items.extend(other.items)
        self.errors.extend(other.errors)
        self.merged_duplicates += other.merged_duplicates
        self.dropped.update(other.dropped)

    def kept_fields(self) -> Counter[str]:
        """Our fields that the imported records fill, with how many records fill each."""
        kept: Counter[str] = Counter()
        for item in self.items:
            kept.update(k for k in item.model_dump(exclude_none=True, exclude_defaults=True) if k != "kind")
        return kept

    def reject_duplicate_ids(self, file: str) -> None:
        """Keep the first record of each id and report the others (a later one would overwrite it)."""
        seen: set[str] = set()
        kept: list[Item] = []
        for item in self.items:
            if item.id in seen:
                self.errors.append(
                    RecordError(file, 0, f"duplicate id {item.id!r}: the first record was kept")
                )
                continue
            seen.add(item.id)
            kept.append(item)
        self.items = kept


class ImportFormatError(Exception):
    """The file as a whole cannot be read in the requested format."""


def valid_names(kind: str) -> str:
    """The field names a record of this kind may hold, for error messages."""
    model = IMPORTABLE.get(kind)
    return ", ".join(model.model_fields) if model else ", ".join(IMPORTABLE)


def explain_validation(error: ValidationError, kind: str | None = None) -> str:
    """A one-line reason from pydantic's error list, naming the fields.

    An unknown field also lists the valid names, so the fix is in the message.
    """
    parts = []
    unknown_in: str | None = None
    for err in error.errors()[:3]:
        loc = [str(p) for p in err["loc"]]
        if loc[:1] == ["item"] and len(loc) > 1:  # item_from_dict's envelope: item.<kind>.<field>
            kind, loc = loc[1], loc[2:]
        where = ".".join(loc) or "record"
        if err["type"] == "extra_forbidden":
            parts.append(f"{where}: unknown field")
            unknown_in = kind or "guide"
        else:
            parts.append(f"{where}: {err['msg']}")
    if unknown_in:
        parts.append(f"valid fields of a {unknown_in}: {valid_names(unknown_in)}")
    return "; ".join(parts)


Importer = Callable[[Path], ImportResult]
