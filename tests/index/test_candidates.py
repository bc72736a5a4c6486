"""Candidates as lists (index.fusion.Sparse, BM25Index.top): the same leading documents and
fused scores as the exhaustive computation over every document, on random small data."""

from __future__ import annotations

import random

import numpy as np
import pytest

from index import lexical
from index.fusion import Sparse, minmax_on, rrf_fusion, top_candidates, top_sparse, weighted_fusion
from index.lexical import BM25Index

WORDS = [f"w{i}" for i in range(40)]


def _sparse_of(rng: np.random.Generator, n: int, fill: float) -> Sparse:
    """Random scores with many ties (a few distinct values), some documents left at `fill`."""
    listed = rng.choice(n, size=int(rng.integers(0, n + 1)), replace=False)
    values = rng.choice([fill - 1.0, fill, fill + 0.5, fill + 1.0, fill + 2.0], size=len(listed))
    return Sparse.of(listed, values.astype(np.float32), n, fill)


@pytest.mark.parametrize("fill", [0.0, -1.0])
def test_top_sparse_is_top_candidates_of_the_written_out_scores(fill: float) -> None:
    rng = np.random.default_rng(7)
    for _ in range(400):
        n = int(rng.integers(1, 40))
        scores = _sparse_of(rng, n, fill)
        for k in (1, 3, 10, 50):
            assert top_sparse(scores, k).tolist() == top_candidates(scores.to_dense(), k).tolist()


def _dense_weighted(signals: dict[str, np.ndarray], weights: dict[str, float], per: int) -> np.ndarray:
    """The fusion as it was over written-out arrays (the reference)."""
    fused = None
    for name, values in signals.items():
        part = minmax_on(values, top_candidates(values, per)) * float(weights[name])
        fused = part if fused is None else fused + part
    assert fused is not None
    return fused


def _dense_rrf(signals: dict[str, np.ndarray], per: int, k: int) -> np.ndarray:
    fused = None
    for values in signals.values():
        part = np.zeros_like(values, dtype=np.float32)
        cand = top_candidates(values, per)
        cand = cand[values[cand] > 0]
        part[cand] = 1.0 / (k + np.arange(1, len(cand) + 1))
        fused = part if fused is None else fused + part
    assert fused is not None
    return fused


def test_fusion_over_lists_equals_fusion_over_arrays() -> None:
    rng = np.random.default_rng(11)
    weights = {"dense": 0.6, "lexical": 0.3, "fuzzy": 0.1}
    for _ in range(300):
        n = int(rng.integers(1, 60))
        signals = {"dense": _sparse_of(rng, n, -1.0), "lexical": _sparse_of(rng, n, 0.0)}
        signals["fuzzy"] = _sparse_of(rng, n, 0.0)
        arrays = {name: s.to_dense() for name, s in signals.items()}
        for per in (1, 5, 50):
            fused = weighted_fusion(signals, weights, per)
            reference = _dense_weighted(arrays, weights, per)
            assert fused.to_dense().tobytes() == reference.tobytes()
            assert top_sparse(fused, 10).tolist() == top_candidates(reference, 10).tolist()
            rrf = rrf_fusion(signals, per, 60)
            assert rrf.to_dense().tobytes() == _dense_rrf(arrays, per, 60).tobytes()


def _docs(seed: int, n: int) -> list[list[str]]:
    rng = random.Random(seed)
    # a skewed vocabulary: a few terms in most documents, most terms rare
    return [[WORDS[min(int(rng.expovariate(0.15)), 39)] for _ in range(rng.randint(0, 25))] for _ in range(n)]


@pytest.mark.parametrize("dense_share", [0, 10**9])  # the union of postings; one array
@pytest.mark.parametrize("k", [1, 5, 20])
def test_bm25_top_matches_every_document_scored(
    k: int, dense_share: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lexical, "DENSE_SHARE", dense_share)
    bm25 = BM25Index(_docs(k, 400))
    rng = random.Random(100 + k)
    pruned = 0
    for _ in range(150):
        query = [*rng.sample(WORDS, rng.randint(1, 8)), "unknown"]
        full = bm25.scores(query)
        top = bm25.top(query, k)
        assert top_sparse(top, k).tolist() == top_candidates(full, k).tolist()
        assert top.values.tobytes() == full[top.ids].tobytes()  # the listed scores are exact
        assert bm25.doc_scores(query, np.arange(400)).tobytes() == full.tobytes()
        pruned += len(top.ids) < int((full > 0).sum())
    assert pruned > 0 or dense_share  # the pruning did skip postings on this data


def test_bm25_top_of_nothing() -> None:
    assert BM25Index([]).top(["x"], 5).to_dense().shape == (0,)
    assert BM25Index([["a"], ["b"]]).top(["c"], 5).to_dense().tolist() == [0.0, 0.0]
