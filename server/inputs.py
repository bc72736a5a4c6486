"""What a JSON body may hold, checked once at the boundary for every route: strict JSON
(no NaN or Infinity, no number that overflows to infinity), and strings the database can
store (no lone surrogate such as \\ud800, no NUL). A body that breaks this is answered 400
before any route sees it, so nothing of it is stored. Integers in paths and query strings
are bounded here too: a row id or offset past what the database stores is a 422, not a failed
query."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import Path, Query

SQL_INT_MAX = 2**63 - 1
"""The largest integer SQLite and PostgreSQL's BIGINT hold."""

RowId = Annotated[int, Path(ge=1, le=SQL_INT_MAX, description="A row's id")]
Position = Annotated[int, Query(ge=0, le=SQL_INT_MAX, description="Rows or lines to skip")]


class BadInputError(ValueError):
    """The body is not acceptable JSON; the message says why, in a few words."""


def _constant(name: str) -> Any:
    raise BadInputError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadInputError(f"number {text[:20]} is out of range")
    return value


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise BadInputError("NUL characters are not accepted")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInputError("a lone surrogate (e.g. \\ud800) is not valid text") from None


def _walk(value: Any, depth: int = 0) -> None:
    if depth > 32:
        raise BadInputError("nested too deeply")
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _walk(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _walk(item, depth + 1)


def check_json(body: bytes) -> None:
    """Raise BadInputError unless `body` is empty or strict, storable JSON."""
    if not body.strip():
        return
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInputError("the body is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float)
    except BadInputError:
        raise
    except (ValueError, RecursionError):
        return  # malformed JSON: the route's own parser answers 422 with the position
    _walk(value)
