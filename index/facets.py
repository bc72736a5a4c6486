"""Facets: prefer the variant of a matter that the question asks for (pure functions).

Catalogs list one matter many times: apply, check progress, book, reissue,
renew, extend, cancel, move in or out, suspend or resume. Embeddings see these
titles as near-identical; the facet words in the question (丢了, 到哪了, 到期...)
tell them apart. Some variants are opposites (转入/转出, 暂停/恢复): a title with
the opposite of what the question states is pushed down harder than one that
merely has a facet the question does not name. A question that says where
something goes (从企业调到机关) is read the same way: a title that names only the
place it leaves is the opposite variant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.yamlio import load_yaml

FACETS_FILE = Path(__file__).parent / "data" / "facets.yml"
# A facet word right after these says what already happened, not what is asked for:
# 养老金被暂停了怎么恢复 asks to resume, 已经注销了 is a state.
_STATE_BEFORE = ("被", "已", "已经")
# 从<origin>(调|转|迁|...)到<destination>: the span between 从 and the move, and after it.
_ROUTE = re.compile(
    r"从([^，。,.!?！？\s从]{2,8}?)(?:调|转|迁|换|跳槽|移|搬)?(?:到|至|去|进|入|回)([^，。,.!?！？\s]{2,8})"
)
_SPAN_TAIL = re.compile(r"(?:去|来|了|的|里|上|工作|上班)+$")


@dataclass(frozen=True)
class Facet:
    title: tuple[str, ...]
    query: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]  # query wordings a word list cannot hold (转…过来)
    weight: float
    opposite: tuple[str, ...]  # facets this one contradicts


@lru_cache(maxsize=1)
def _facets(path: Path = FACETS_FILE) -> dict[str, Facet]:
    data = load_yaml(path.read_text(encoding="utf-8")) or {}
    return {
        name: Facet(
            title=tuple(spec.get("title", [])),
            query=tuple(spec.get("query", [])),
            patterns=tuple(re.compile(p) for p in spec.get("query_patterns", [])),
            weight=float(spec.get("weight", 1.0)),
            opposite=tuple(spec.get("opposite", [])),
        )
        for name, spec in data.items()
    }


def _asked(text: str, word: str) -> bool:
    """`word` occurs in the question other than as a state (被暂停, 已注销)."""
    start = text.find(word)
    while start >= 0:
        if not any(text[:start].endswith(s) for s in _STATE_BEFORE):
            return True
        start = text.find(word, start + 1)
    return False


def facets_of(text: str, side: str) -> frozenset[str]:
    """Facets a title (side='title') or a question (side='query') expresses."""
    lowered = text.lower()
    if side == "title":
        return frozenset(n for n, f in _facets().items() if any(w in lowered for w in f.title))
    return frozenset(
        n
        for n, f in _facets().items()
        if any(_asked(lowered, w) for w in f.query) or any(p.search(lowered) for p in f.patterns)
    )


def facet_adjustment(
    query_facets: frozenset[str],
    title_facets: frozenset[str],
    *,
    bonus: float,
    penalty: float,
    conflict: float = 0.0,
) -> float:
    """Bonus for each facet both name; penalty for each the title has and the question lacks,
    plus `conflict` for each that is the opposite of one the question states (and the title lacks)."""
    facets = _facets()

    def weight(names: set[str] | frozenset[str]) -> float:
        return sum(facets[n].weight if n in facets else 1.0 for n in names)

    unwanted = title_facets - query_facets
    opposed = {
        o for q in query_facets - title_facets if q in facets for o in facets[q].opposite if o in unwanted
    }
    matched = query_facets & title_facets
    return bonus * weight(matched) - penalty * weight(unwanted) - conflict * weight(opposed)


def route_of(text: str) -> tuple[str, str] | None:
    """(origin, destination) when the question says where something moves from and to."""
    found = _ROUTE.search(text)
    if found is None:
        return None
    origin, destination = (_SPAN_TAIL.sub("", s) for s in found.groups())
    return (origin, destination) if len(origin) >= 2 and len(destination) >= 2 else None


def _names(title: str, span: str) -> bool:
    """The title names the span: the span itself or one of its two-character pieces."""
    return span in title or any(span[i : i + 2] in title for i in range(len(span) - 1))


def route_conflict(route: tuple[str, str] | None, title: str) -> bool:
    """The title names the place the question leaves and not the one it goes to."""
    if route is None:
        return False
    origin, destination = route
    return _names(title, origin) and not _names(title, destination)
