"""Index choice and the faiss wrappers: right kind, right answers, params applied."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("faiss")

from index.ann import (
    DEFAULT_FLAT_MAX,
    DEFAULT_HNSW_MAX,
    build_faiss_index,
    choose_index,
    default_nlist,
    search,
)

N, DIM, K = 5_000, 384, 10


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _mixture(n: int, seed: int, n_clusters: int = 40) -> np.ndarray:
    """Clustered unit vectors: topics with spread, like embeddings of a small KB."""
    rng = np.random.default_rng(seed)
    centres = _normalise(np.random.default_rng(0).standard_normal((n_clusters, DIM)))
    labels = rng.integers(0, n_clusters, size=n)
    noise = rng.standard_normal((n, DIM)) * (0.8 / np.sqrt(DIM))
    return _normalise(centres[labels] + noise)


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return _mixture(N, seed=1)


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return _mixture(100, seed=2)


@pytest.fixture(scope="module")
def truth(data: np.ndarray, queries: np.ndarray) -> np.ndarray:
    return search(build_faiss_index(data, "flat", {}), queries, K)[1]


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = [len(set(f) & set(t)) for f, t in zip(found.tolist(), truth.tolist(), strict=True)]
    return float(np.mean(hits)) / truth.shape[1]


# ------------------------------------------------------------------ choose_index


def test_choose_index_thresholds_are_inclusive() -> None:
    kw = {"flat_max": 1_000, "hnsw_max": 50_000}
    assert choose_index(0, DIM, **kw) == "flat"
    assert choose_index(1_000, DIM, **kw) == "flat"
    assert choose_index(1_001, DIM, **kw) == "hnsw"
    assert choose_index(50_000, DIM, **kw) == "hnsw"
    assert choose_index(50_001, DIM, **kw) == "ivf"


def test_choose_index_scales_with_dimension() -> None:
    kw = {"flat_max": 1_000, "hnsw_max": 50_000}
    assert choose_index(1_000, 768, **kw) == "hnsw"  # twice the work per vector
    assert choose_index(2_000, 192, **kw) == "flat"


def test_choose_index_defaults() -> None:
    assert choose_index(DEFAULT_FLAT_MAX, DIM) == "flat"
    assert choose_index(DEFAULT_FLAT_MAX + 1, DIM) == "hnsw"
    assert choose_index(DEFAULT_HNSW_MAX + 1, DIM) == "ivf"


@pytest.mark.parametrize(
    ("n", "dim", "flat_max", "hnsw_max"),
    [(-1, DIM, 1, 2), (10, 0, 1, 2), (10, DIM, 5, 2), (10, DIM, -1, 2)],
)
def test_choose_index_rejects_nonsense(n: int, dim: int, flat_max: int, hnsw_max: int) -> None:
    with pytest.raises(ValueError):
        choose_index(n, dim, flat_max=flat_max, hnsw_max=hnsw_max)


# ------------------------------------------------------------------ build / search


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_stored_vector_is_its_own_top1(data: np.ndarray, kind: str) -> None:
    index = build_faiss_index(data, kind, {})
    rows = np.arange(0, N, 97)
    scores, ids = search(index, data[rows], K)
    assert ids.shape == (len(rows), K)
    np.testing.assert_array_equal(ids[:, 0], rows)
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-4)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_recall_against_flat(data: np.ndarray, queries: np.ndarray, truth: np.ndarray, kind: str) -> None:
    index = build_faiss_index(data, kind, {})
    assert _recall(search(index, queries, K)[1], truth) >= 0.9


def test_ivf_probing_every_list_is_exact(data: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> None:
    import faiss

    index = build_faiss_index(data, "ivf", {"nprobe": 1})
    nlist = faiss.extract_index_ivf(index).nlist
    assert nlist == default_nlist(N)
    narrow = _recall(search(index, queries, K)[1], truth)
    full = _recall(search(index, queries, K, {"nprobe": nlist})[1], truth)
    assert full == 1.0
    assert narrow < full


def test_search_params_override_build_params(data: np.ndarray) -> None:
    index: Any = build_faiss_index(data[:1000], "hnsw", {"ef_search": 16, "m": 16})
    assert index.hnsw.efSearch == 16
    search(index, data[:2], K, {"ef_search": 200, "nprobe": 4})
    assert index.hnsw.efSearch == 200


def test_one_dimensional_query_and_short_collections(data: np.ndarray) -> None:
    index = build_faiss_index(data[:3], "flat", {})
    _, ids = search(index, data[1], K)
    assert ids.shape == (1, K)
    assert ids[0, 0] == 1
    assert (ids[0, 3:] == -1).all()


def test_default_nlist() -> None:
    assert default_nlist(1_000_000) == 4_000
    assert default_nlist(100_000) == 1_265
    assert default_nlist(5_000) == 5_000 // 39  # capped: >= 39 training points per list


def test_rejects_bad_input(data: np.ndarray) -> None:
    with pytest.raises(ValueError, match="unknown index kind"):
        build_faiss_index(data, "lsh", {})
    with pytest.raises(ValueError, match="2-D"):
        build_faiss_index(data[0], "flat", {})
    index = build_faiss_index(data[:10], "flat", {})
    with pytest.raises(ValueError, match="dim"):
        search(index, data[:2, :100], K)
    with pytest.raises(ValueError, match="k must be positive"):
        search(index, data[:2], 0)
