"""Fusing ranked lists from several retrievers into one ranking (pure functions).

A retriever hands over `Sparse` scores: the documents it found with their scores and one
value for every other document, so that fusion costs its candidates, not the size of the
knowledge base; `top_sparse` picks exactly what `top_candidates` picks from the same scores
written out over every document (docs/benchmarks.md 16).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sparse:
    """Scores of `n` documents: `values` at `ids` (distinct, ascending), `fill` elsewhere.
    A retriever may leave out documents that cannot reach its leading candidates; then what
    it lists is exact only for those (and `fill` stands below the leading scores)."""

    ids: np.ndarray
    values: np.ndarray
    n: int
    fill: float = 0.0

    @classmethod
    def of(cls, ids: np.ndarray, values: np.ndarray, n: int, fill: float = 0.0) -> Sparse:
        """From ids in any order (sorted here)."""
        ids = np.asarray(ids, dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        return cls(ids[order], np.asarray(values, dtype=np.float32)[order], n, fill)

    @classmethod
    def dense(cls, scores: np.ndarray) -> Sparse:
        """Scores already written out for every document."""
        return cls(np.arange(len(scores), dtype=np.int64), np.asarray(scores, dtype=np.float32), len(scores))

    def at(self, docs: np.ndarray | list[int]) -> np.ndarray:
        """The scores of `docs`."""
        docs = np.asarray(docs, dtype=np.int64)
        out = np.full(len(docs), self.fill, dtype=np.float32)
        if len(self.ids) and len(docs):
            pos = np.minimum(np.searchsorted(self.ids, docs), len(self.ids) - 1)
            found = self.ids[pos] == docs
            out[found] = self.values[pos[found]]
        return out

    def to_dense(self) -> np.ndarray:
        out = np.full(self.n, self.fill, dtype=np.float32)
        out[self.ids] = self.values
        return out


def top_candidates(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores, best first; ties keep document order, and a tie at the
    k-th score takes the earliest documents (argpartition alone would pick any of them, so the
    choice would depend on the other scores, and a retriever that scores only its leading
    documents could not give the same candidates as one that scores every document)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
    above = np.flatnonzero(scores > kth)
    part = np.concatenate([above, np.flatnonzero(scores == kth)[: k - len(above)]])
    return part[np.lexsort((part, -scores[part]))]


def _earliest_unlisted(listed: np.ndarray, count: int, n: int) -> np.ndarray:
    """The `count` smallest document numbers below `n` that are not in `listed` (ascending)."""
    high = count
    while True:
        below = int(np.searchsorted(listed, high))
        if high - below >= count or high >= n:
            break
        high = min(count + below, n)
    free = np.arange(high, dtype=np.int64)
    return np.setdiff1d(free, listed[:below], assume_unique=True)[:count]


def top_sparse(scores: Sparse, k: int) -> np.ndarray:
    """`top_candidates(scores.to_dense(), k)` without writing out every document: the order of
    (score desc, document asc) over all documents, whose unlisted ones all hold `fill`."""
    k = min(k, scores.n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    ids, values = scores.ids, scores.values
    above = values > scores.fill
    if int(above.sum()) > k:
        ids_above, values_above = ids[above], values[above]
        kth = values_above[np.argpartition(-values_above, k - 1)[:k]].min()
        keep = np.flatnonzero(values_above > kth)
        ties = np.flatnonzero(values_above == kth)[: k - len(keep)]  # ids ascending: earliest
        chosen = np.concatenate([keep, ties])
        return ids_above[chosen[np.lexsort((ids_above[chosen], -values_above[chosen]))]]
    head = ids[above][np.lexsort((ids[above], -values[above]))]
    need = k - len(head)
    if need == 0:
        return head
    below = values < scores.fill
    at_fill = _earliest_unlisted(ids[above | below], need, scores.n)  # listed at fill or unlisted
    need -= len(at_fill)
    tail = ids[below][np.lexsort((ids[below], -values[below]))][:need]
    return np.concatenate([head, at_fill, tail]).astype(np.int64)


def minmax_values(values: np.ndarray) -> np.ndarray:
    """`values` scaled to 0-1 over themselves; all 0 when the best is not above 0 (the
    retriever found nothing: it must not vote)."""
    values = np.asarray(values, dtype=np.float32)
    if len(values) == 0:
        return values
    low, high = float(values.min()), float(values.max())
    if high <= 0:
        return np.zeros_like(values)
    span = high - low
    return (values - low) / span if span > 1e-9 else np.ones_like(values)


def minmax_on(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Scores scaled to 0-1 over the candidate set; everything else is 0."""
    out = np.zeros_like(scores, dtype=np.float32)
    if len(candidates):
        out[candidates] = minmax_values(scores[candidates])
    return out


def _sum_parts(parts: list[tuple[np.ndarray, np.ndarray]], n: int) -> Sparse:
    """Per document, the parts added in the order given (float32, as array sums would)."""
    if not parts:
        return Sparse(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), n)
    union = np.unique(np.concatenate([ids for ids, _ in parts]))
    total = np.zeros(len(union), dtype=np.float32)
    for ids, values in parts:
        part = np.zeros(len(union), dtype=np.float32)
        part[np.searchsorted(union, ids)] = values
        total = total + part
    return Sparse(union, total, n)


def weighted_fusion(
    scores: Mapping[str, Sparse], weights: Mapping[str, float], candidates_per: int
) -> Sparse:
    """Sum of min-max scaled scores, each retriever's candidates only."""
    parts = []
    n = 0
    for name, values in scores.items():
        n = values.n
        cand = top_sparse(values, candidates_per)
        parts.append((cand, minmax_values(values.at(cand)) * float(weights.get(name, 0.0))))
    return _sum_parts(parts, n)


def rrf_fusion(scores: Mapping[str, Sparse], candidates_per: int, k: int = 60) -> Sparse:
    """Reciprocal-rank fusion: robust when score scales are not comparable."""
    parts = []
    n = 0
    for values in scores.values():
        n = values.n
        cand = top_sparse(values, candidates_per)
        cand = cand[values.at(cand) > 0]
        parts.append((cand, (1.0 / (k + np.arange(1, len(cand) + 1))).astype(np.float32)))
    return _sum_parts(parts, n)
