"""What a citizen-facing message must never contain: a UTC time, an ISO stamp, or another
citizen's ticket number. Shared by the template scan, the chat and the Rasa action tests."""

from __future__ import annotations

import re
from collections.abc import Iterable

_MACHINE_TIME = [
    re.compile(r"\bUTC\b|GMT|Z\b|[+-]00:?00"),
    re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}"),  # 2026-12-02T10:00 and 2026-12-02 10:00
    re.compile(r"T\d{2}:\d{2}(:\d{2})?"),
]


def citizen_problems(text: str, *, others: Iterable[str] = ()) -> list[str]:
    """Each reason `text` may not be shown to a citizen (empty when it may)."""
    problems = [f"machine time {m.group(0)!r}" for p in _MACHINE_TIME if (m := p.search(text))]
    problems += [f"another citizen's ticket {number}" for number in others if number in text]
    return problems
