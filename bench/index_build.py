"""Index build throughput against its floor: the encoder embedding the same texts in the same batches.

For each data directory given (items already imported), in one process with the runtime
sized by config.yml (core/runtime.py), alternating --rounds times:

- floor: `encoder.encode_passages` over exactly the texts a build embeds (every item's
  dense views), in the build's batches of `index.embedder.batch_size` items;
- build: `index.builder.build_index(..., full=True)` into a scratch folder: item records
  (jieba terms), the same embedding, the faiss index and the files.

Issue 9's goal: build throughput >= 0.8x the floor's (ratio = floor seconds / build seconds).

    .venv/bin/python bench/index_build.py --data-dir /tmp/gd --data-dir /tmp/policy [--rounds 3]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import docstring_parser, environment, header, markdown_table, write_json


def _floor(encoder: Any, views: list[list[str]], batch_size: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(views), batch_size):
        encoder.encode_passages([text for item in views[start : start + batch_size] for text in item])
    return time.perf_counter() - started


def measure(data_dir: Path, rounds: int) -> dict[str, Any]:
    from core.runtime import apply_runtime
    from core.settings import load_settings
    from index.builder import build_index, record_for
    from index.encoders import make_encoder
    from jobs.operations import ann_params
    from knowledge.store import KnowledgeStore

    settings = load_settings(data_dir=data_dir)
    apply_runtime(settings.runtime)
    items = list(KnowledgeStore(settings.kb_url).iter_items())
    encoder = make_encoder(settings.index.embedder)
    batch = settings.index.embedder.batch_size
    views = [record_for(item).dense_views for item in items]
    encoder.encode_passages(views[0][:1])  # load the model outside the timings
    floors, builds = [], []
    for _ in range(rounds):
        floors.append(_floor(encoder, views, batch))
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            params = ann_params(settings)
            build_index(items, encoder, Path(scratch), ann_params=params, batch_size=batch, full=True)
            builds.append(time.perf_counter() - started)
    floor, build = statistics.median(floors), statistics.median(builds)
    return {
        "data_dir": str(data_dir),
        "items": len(items),
        "texts": sum(len(v) for v in views),
        "mean_chars": round(sum(len(t) for v in views for t in v) / max(1, sum(len(v) for v in views)), 1),
        "floor_s": round(floor, 2),
        "build_s": round(build, 2),
        "floor_items_per_s": round(len(items) / floor, 1),
        "build_items_per_s": round(len(items) / build, 1),
        "ratio": round(floor / build, 3),
        "floors": [round(x, 2) for x in floors],
        "builds": [round(x, 2) for x in builds],
        "threads": {k: os.environ.get(k, "(unset)") for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")},
    }


def main() -> None:
    parser = docstring_parser(__doc__)
    parser.add_argument("--data-dir", type=Path, action="append", required=True, help="repeatable")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    env = environment()
    results = [measure(d, args.rounds) for d in args.data_dir]
    print(header("Index build vs the encoder alone", env))
    rows = [
        [
            Path(r["data_dir"]).name,
            r["items"],
            r["texts"],
            r["mean_chars"],
            r["floor_s"],
            r["build_s"],
            r["floor_items_per_s"],
            r["build_items_per_s"],
            f"{r['ratio']:.2f}x",
        ]
        for r in results
    ]
    headers = ["data dir", "items", "texts embedded", "mean chars", "floor s", "build s", "floor items/s"]
    print(markdown_table([*headers, "build items/s", "build / floor throughput"], rows))
    print(f"\nrounds: {args.rounds} (medians); threads: {results[0]['threads']}")
    write_json(args.out, {"environment": env, "results": results})


if __name__ == "__main__":
    main()
