"""Facets: prefer the variant of a matter that the question asks for (pure functions).

Catalogs list one matter many times: apply, check progress, book, reissue,
renew, extend, cancel. Embeddings see these titles as near-identical; the
facet words in the question (丢了, 到哪了, 到期...) tell them apart.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from core.yamlio import load_yaml

FACETS_FILE = Path(__file__).parent / "data" / "facets.yml"


@lru_cache(maxsize=1)
def load_facets(path: Path = FACETS_FILE) -> dict[str, dict[str, tuple[str, ...]]]:
    data = load_yaml(path.read_text(encoding="utf-8")) or {}
    return {
        name: {"title": tuple(spec.get("title", [])), "query": tuple(spec.get("query", []))}
        for name, spec in data.items()
    }


@lru_cache(maxsize=1)
def facet_weights(path: Path = FACETS_FILE) -> dict[str, float]:
    data = load_yaml(path.read_text(encoding="utf-8")) or {}
    return {name: float(spec.get("weight", 1.0)) for name, spec in data.items()}


def facets_of(text: str, side: str) -> frozenset[str]:
    """Facets a title (side='title') or a question (side='query') expresses."""
    lowered = text.lower()
    return frozenset(name for name, spec in load_facets().items() if any(w in lowered for w in spec[side]))


def facet_adjustment(
    query_facets: frozenset[str], title_facets: frozenset[str], *, bonus: float, penalty: float
) -> float:
    """Bonus for each facet both name; penalty for each the title has and the question lacks."""
    weights = facet_weights()
    matched = sum(weights.get(f, 1.0) for f in query_facets & title_facets)
    unwanted = sum(weights.get(f, 1.0) for f in title_facets - query_facets)
    return bonus * matched - penalty * unwanted
