"""Pick and build the faiss index for a collection of normalised embeddings.

Why: an exact flat scan is simplest and perfect up to a point, then becomes
too slow per query; HNSW is fast but costs memory and a long build; IVF builds
and stores cheaply at very large sizes. bench/ann_scaling.py measures where
those points lie on this machine (results in bench/results_ann_scaling.md);
the product reads the thresholds from config and calls :func:`choose_index`.

All indexes use inner product, i.e. cosine similarity on normalised vectors.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import faiss

logger = logging.getLogger(__name__)

KINDS = ("flat", "hnsw", "ivf")
REFERENCE_DIM = 384

# From bench/results_ann_scaling.md (2 cores, dim 384): see choose_index.
DEFAULT_FLAT_MAX = 100_000
DEFAULT_HNSW_MAX = 1_000_000

HNSW_DEFAULTS: dict[str, Any] = {"m": 32, "ef_construction": 80, "ef_search": 128}
IVF_DEFAULTS: dict[str, Any] = {
    "nprobe": 16,
    "niter": 10,
    "train_per_list": 40,
    "seed": 1234,
}
# faiss warns below 39 training points per list; fewer lists is better than bad ones.
_MIN_TRAIN_PER_LIST = 39


def choose_index(
    n_vectors: int,
    dim: int,
    *,
    flat_max: int = DEFAULT_FLAT_MAX,
    hnsw_max: int = DEFAULT_HNSW_MAX,
) -> str:
    """Index kind for a collection: "flat", then "hnsw", then "ivf" as it grows.

    Thresholds count vectors of REFERENCE_DIM (384) dimensions, the size they
    were measured at. Scan time, memory and build time all grow with n * dim,
    so other dimensions are scaled to 384-dim equivalents before comparing.
    """
    if n_vectors < 0 or dim <= 0:
        raise ValueError(f"need n_vectors >= 0 and dim > 0, got {n_vectors}, {dim}")
    if not 0 <= flat_max <= hnsw_max:
        raise ValueError(f"need 0 <= flat_max <= hnsw_max, got {flat_max}, {hnsw_max}")
    equivalent = n_vectors * dim / REFERENCE_DIM
    if equivalent <= flat_max:
        return "flat"
    if equivalent <= hnsw_max:
        return "hnsw"
    return "ivf"


def default_nlist(n_vectors: int) -> int:
    """About 4 * sqrt(N) inverted lists, capped so each list gets enough training points."""
    wanted = round(4 * math.sqrt(max(n_vectors, 1)))
    return max(1, min(wanted, n_vectors // _MIN_TRAIN_PER_LIST))


def _as_matrix(vectors: np.ndarray) -> np.ndarray:
    """faiss wants C-contiguous float32 rows."""
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"expected a 2-D (n, dim) array, got shape {array.shape}")
    return array


def _build_flat(vectors: np.ndarray) -> faiss.Index:
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def _build_hnsw(vectors: np.ndarray, params: Mapping[str, Any]) -> faiss.Index:
    import faiss

    p = {**HNSW_DEFAULTS, **params}
    index = faiss.IndexHNSWFlat(vectors.shape[1], int(p["m"]), faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = int(p["ef_construction"])
    index.hnsw.efSearch = int(p["ef_search"])
    index.add(vectors)
    return index


def _training_sample(vectors: np.ndarray, size: int, seed: int) -> np.ndarray:
    if size >= len(vectors):
        return vectors
    rows = np.random.default_rng(seed).choice(len(vectors), size=size, replace=False)
    return vectors[np.sort(rows)]


def _build_ivf(vectors: np.ndarray, params: Mapping[str, Any]) -> faiss.Index:
    import faiss

    p = {**IVF_DEFAULTS, **params}
    n, dim = vectors.shape
    nlist = int(p.get("nlist") or default_nlist(n))
    if nlist > n:
        raise ValueError(f"IVF needs at least nlist={nlist} vectors, got {n}")
    train_size = int(p.get("train_size") or nlist * int(p["train_per_list"]))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = int(p["niter"])
    index.cp.seed = int(p["seed"])
    index.train(_training_sample(vectors, train_size, int(p["seed"])))
    index.add(vectors)
    index.nprobe = int(p["nprobe"])
    return index  # faiss's Python wrapper keeps the quantizer alive with the index


def build_faiss_index(vectors: np.ndarray, kind: str, params: Mapping[str, Any]) -> faiss.Index:
    """Build a ``kind`` index ("flat", "hnsw", "ivf") over ``vectors`` (n, dim).

    ``params`` may set, for hnsw: m, ef_construction, ef_search; for ivf:
    nlist, nprobe, niter, train_size (or train_per_list), seed. Missing keys
    take HNSW_DEFAULTS / IVF_DEFAULTS. Search-time knobs are stored on the
    index, so :func:`search` needs no params unless they should change.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown index kind {kind!r}; expected one of {KINDS}")
    matrix = _as_matrix(vectors)
    logger.debug("building %s index over %d x %d", kind, *matrix.shape)
    if kind == "flat":
        return _build_flat(matrix)
    if kind == "hnsw":
        return _build_hnsw(matrix, params)
    return _build_ivf(matrix, params)


def apply_search_params(index: faiss.Index, params: Mapping[str, Any]) -> None:
    """Set efSearch (hnsw) or nprobe (ivf) on an index; other keys are ignored."""
    import faiss

    if "ef_search" in params and hasattr(index, "hnsw"):
        index.hnsw.efSearch = int(params["ef_search"])
    if "nprobe" in params:
        ivf = faiss.try_extract_index_ivf(index)
        if ivf is not None:
            ivf.nprobe = int(params["nprobe"])


def search(
    index: faiss.Index,
    queries: np.ndarray,
    k: int,
    params: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (scores, ids) per query row; ids are -1 where fewer than k exist.

    ``params`` (ef_search / nprobe) override the search knobs set at build time.
    """
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    matrix = _as_matrix(queries.reshape(1, -1) if queries.ndim == 1 else queries)
    if matrix.shape[1] != index.d:
        raise ValueError(f"queries have dim {matrix.shape[1]}, index has {index.d}")
    if params:
        apply_search_params(index, params)
    scores, ids = index.search(matrix, k)
    return scores, ids
