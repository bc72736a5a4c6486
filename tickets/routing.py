"""Categories and departments: the three-level 12345 taxonomy and the category → department table."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from tickets.errors import InvalidTicketError


@dataclass(frozen=True)
class Taxonomy:
    """Known category paths. Without the TSV only first-level names (the routing table's) are known."""

    level1: frozenset[str]
    paths: frozenset[tuple[str, str, str]] = field(default_factory=frozenset)

    @classmethod
    def load(cls, path: Path | None, level1: set[str]) -> Taxonomy:
        if path is None or not path.is_file():
            return cls(level1=frozenset(level1))
        with path.open(encoding="utf-8") as handle:
            rows = [r for r in csv.reader(handle, delimiter="\t") if len(r) >= 3]
        paths = frozenset((a.strip(), b.strip(), c.strip()) for a, b, c, *_ in rows[1:])
        return cls(level1=frozenset({p[0] for p in paths} | level1), paths=paths)

    def check(self, level1: str, level2: str | None, level3: str | None) -> None:
        """Raise InvalidTicketError when the path is not in the taxonomy."""
        if level1 not in self.level1:
            raise InvalidTicketError(f"unknown first-level category {level1!r}")
        if not self.paths or (level2 is None and level3 is None):
            return
        if level3 is not None and level2 is None:
            raise InvalidTicketError("a third-level category needs its second level")
        if not any(p[0] == level1 and p[1] == level2 for p in self.paths):
            raise InvalidTicketError(f"{level2!r} is not a second-level category of {level1}")
        if level3 is not None and (level1, level2, level3) not in self.paths:
            raise InvalidTicketError(f"{level3!r} is not a third-level category of {level1}/{level2}")


def split_category(text: str) -> tuple[str, str | None, str | None]:
    """'城乡建设/城乡规划/违章建筑' (or with >) into its levels."""
    parts = [p.strip() for p in text.replace(">", "/").split("/") if p.strip()]
    if not parts or len(parts) > 3:
        raise InvalidTicketError(f"category {text!r}: expected 1 to 3 levels separated by /")
    padded = [*parts, None, None]
    return parts[0], padded[1], padded[2]


@dataclass(frozen=True)
class Router:
    table: dict[str, str]
    default: str

    def department_for(self, category1: str | None) -> str:
        return self.table.get(category1 or "", self.default)
