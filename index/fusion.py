"""Fusing ranked lists from several retrievers into one ranking (pure functions)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


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


def minmax_on(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Scores scaled to 0-1 over the candidate set; everything else is 0."""
    out = np.zeros_like(scores, dtype=np.float32)
    if len(candidates) == 0:
        return out
    values = scores[candidates]
    low, high = float(values.min()), float(values.max())
    if high <= 0:  # this retriever found nothing: it must not vote
        return out
    span = high - low
    out[candidates] = (values - low) / span if span > 1e-9 else 1.0
    return out


def weighted_fusion(
    scores: Mapping[str, np.ndarray], weights: Mapping[str, float], candidates_per: int
) -> np.ndarray:
    """Sum of min-max scaled scores, each retriever's candidates only."""
    fused: np.ndarray | None = None
    for name, values in scores.items():
        cand = top_candidates(values, candidates_per)
        part = minmax_on(values, cand) * float(weights.get(name, 0.0))
        fused = part if fused is None else fused + part
    return fused if fused is not None else np.zeros(0, dtype=np.float32)


def rrf_fusion(scores: Mapping[str, np.ndarray], candidates_per: int, k: int = 60) -> np.ndarray:
    """Reciprocal-rank fusion: robust when score scales are not comparable."""
    fused: np.ndarray | None = None
    for values in scores.values():
        part = np.zeros_like(values, dtype=np.float32)
        cand = top_candidates(values, candidates_per)
        cand = cand[values[cand] > 0]
        part[cand] = 1.0 / (k + np.arange(1, len(cand) + 1))
        fused = part if fused is None else fused + part
    return fused if fused is not None else np.zeros(0, dtype=np.float32)
