"""Cost of the full Guangdong catalog: import and index time, peak memory, ask latency, updates.

What it measures, in a fresh data directory:

  (i)   wall seconds to import ../shared/data/guangdong_services.jsonl with the
        gd-catalog importer (read + store) and to build the index (embed every
        item, BM25, faiss), in a worker process of its own;
  (ii)  peak RSS of that worker (resource.getrusage ru_maxrss), and of a separate
        `govbot ask --batch` process (/usr/bin/time -v when present, and polling
        VmHWM in /proc/<pid>/status either way);
  (iii) warm `govbot ask --batch FILE --json` latency: latency_ms of each JSON
        line (the assistant's own timer) as p50/p95/p99 after the first 5 lines,
        and the wall time per question seen from outside (gap between output
        lines), plus the start-up time to the first reply. The questions are
        the colloquial set's questions (all kinds), shuffled with seed 0 and
        repeated up to --questions;
  (iv)  updating one item: a guide's conditions text is changed through
        KnowledgeStore.upsert_many, then jobs.operations.build_kb_index is timed
        (embedded count should be 1) against a full rebuild (full=True) in the
        same process, with the ratio. A no-change rebuild is timed too, so the
        fixed part of every build (records, BM25, saving) is visible.

`govbot train` runs between (i) and (iii), since ask needs the models; its time
is shown for information. The data directory is a new folder under var/bench
(removed afterwards unless --keep) or --data-dir, which must be empty or absent.
Run::

    .venv/bin/python bench/latency.py --out bench/results/latency.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import (
    BENCH_VAR,
    CATALOG,
    COLLOQUIAL,
    Stopwatch,
    docstring_parser,
    environment,
    header,
    import_catalog,
    latency_summary,
    markdown_table,
    require_shared,
    write_json,
)

WARMUP = 5
GOVBOT = Path(sys.executable).with_name("govbot")
TIME_BIN = Path("/usr/bin/time")


# --- (i) import and index, in a worker process -----------------------------------------------
def worker_import(data_dir: Path, result: Path) -> None:
    from bot.assistant import Assistant
    from core.settings import load_settings
    from jobs.operations import build_kb_index

    settings = load_settings(None, data_dir)
    assistant = Assistant(settings)
    with Stopwatch() as total_import:
        imported = import_catalog(assistant.kb)
    rss_after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with Stopwatch() as encoder_load:
        encoder = assistant.resources.encoder
    with Stopwatch() as build:
        report = build_kb_index(settings, assistant.resources)
    out = {
        "import": imported,
        "import_s": round(total_import.seconds, 2),
        "encoder": encoder.name,
        "encoder_load_s": round(encoder_load.seconds, 2),
        "index_s": round(build.seconds, 2),
        "index": {"total": report.total, "embedded": report.embedded, "ann_kind": report.ann_kind},
        "ru_maxrss_mib_after_import": round(rss_after_import / 1024, 1),
        "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    result.write_text(json.dumps(out))


def run_import(data_dir: Path, tmp: Path, timeout: float) -> dict[str, Any]:
    result = tmp / "import.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--worker-import", str(data_dir)]
    command += ["--result", str(result)]
    with Stopwatch() as wall:
        subprocess.run(command, check=True, timeout=timeout)
    out = json.loads(result.read_text())
    out["process_wall_s"] = round(wall.seconds, 2)
    return out


# --- peak memory of a child process ----------------------------------------------------------
def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _vm_hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class PeakMemory(threading.Thread):
    """Polls VmHWM of a process and its descendants until stopped; keeps the largest."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak_kib = pid, every, 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            todo, seen = [self.pid], set()
            while todo:
                pid = todo.pop()
                if pid not in seen:
                    seen.add(pid)
                    self.peak_kib = max(self.peak_kib, _vm_hwm_kib(pid))
                    todo += _children(pid)
            self._halt.wait(self.every)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak_kib


def _time_v_max_rss(path: Path) -> int | None:
    if not path.is_file():
        return None
    for line in path.read_text(errors="replace").splitlines():
        if "Maximum resident set size" in line:
            return int(line.rsplit(":", 1)[1])
    return None


# --- (iii) ask --batch -------------------------------------------------------------------------
def questions(n: int) -> list[str]:
    from bot.evaluation import read_eval_tsv

    pool = [row.question for row in read_eval_tsv(COLLOQUIAL)]
    random.Random(0).shuffle(pool)
    return [pool[i % len(pool)] for i in range(n)]


def run_ask(data_dir: Path, tmp: Path, n: int, timeout: float) -> dict[str, Any]:
    batch = tmp / "questions.txt"
    batch.write_text("\n".join(questions(n)) + "\n", encoding="utf-8")
    command = [str(GOVBOT), "--data-dir", str(data_dir), "ask", "--batch", str(batch), "--json"]
    time_file = tmp / "time-v.txt"
    if TIME_BIN.is_file():
        command = [str(TIME_BIN), "-v", "-o", str(time_file), *command]
    stderr_file = tmp / "ask.stderr"
    started = time.perf_counter()
    arrivals: list[float] = []
    replies: list[dict[str, Any]] = []
    with stderr_file.open("w") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        poller = PeakMemory(process.pid)
        poller.start()
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        assert process.stdout is not None
        for line in process.stdout:
            arrivals.append(time.perf_counter())
            if line.strip():
                replies.append(json.loads(line))
        code = process.wait()
        timer.cancel()
        peak_kib = poller.stop()
    wall = time.perf_counter() - started
    if code != 0:
        tail = stderr_file.read_text(errors="replace")[-2000:]
        raise SystemExit(f"error: govbot ask --batch exited with {code}:\n{tail}")
    latencies = [float(r["latency_ms"]) for r in replies][WARMUP:]
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(arrivals)][WARMUP - 1 :]
    actions: dict[str, int] = {}
    for r in replies:
        actions[r["action"]] = actions.get(r["action"], 0) + 1
    return {
        "questions": len(replies),
        "latency_ms": latency_summary(latencies),
        "wall_gap_ms": latency_summary(gaps),
        "startup_to_first_reply_s": round(arrivals[0] - started, 2) if arrivals else None,
        "process_wall_s": round(wall, 2),
        "wall_per_question_ms": round(wall * 1000 / max(len(replies), 1), 1),
        "peak_rss_mib_time_v": _mib(_time_v_max_rss(time_file)),
        "peak_rss_mib_vmhwm_poll": _mib(peak_kib),
        "actions": actions,
    }


def _f1(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "n/a"


def _ms(summary: dict[str, float]) -> list[str]:
    return [_f1(summary[k]) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")]


def _mib(kib: int | None) -> float | None:
    return round(kib / 1024, 1) if kib else None


# --- (iv) one-item update vs full rebuild ----------------------------------------------------
def run_update(data_dir: Path, skip_full: bool) -> dict[str, Any]:
    from bot.assistant import Assistant
    from core.settings import load_settings
    from jobs.operations import build_kb_index

    settings = load_settings(None, data_dir)
    assistant = Assistant(settings)
    resources = assistant.resources
    with Stopwatch() as encoder_load:
        resources.encoder  # noqa: B018 - load the model outside the timed builds

    def timed(full: bool = False) -> dict[str, Any]:
        with Stopwatch() as sw:
            report = build_kb_index(settings, resources, full=full)
        return {"seconds": round(sw.seconds, 2), "embedded": report.embedded, "reused": report.reused}

    out: dict[str, Any] = {"encoder_load_s": round(encoder_load.seconds, 2)}
    out["no_change_first_call"] = timed()  # jieba user words and caches warm up here
    guide = next((g for g in assistant.kb.iter_items("guide") if getattr(g, "conditions", None)), None)
    if guide is None:
        raise SystemExit("error: no guide with conditions in the knowledge base")
    changed = guide.model_copy(update={"conditions": f"{guide.conditions}（基准测试：条件已更新）"})
    added, updated = assistant.kb.upsert_many([changed])
    out["changed_item"] = {"id": guide.id, "title": guide.title, "added": added, "changed": updated}
    out["incremental"] = timed()
    out["no_change"] = timed()
    if not skip_full:
        out["full"] = timed(full=True)
        out["full_over_incremental"] = round(
            out["full"]["seconds"] / max(out["incremental"]["seconds"], 1e-6), 1
        )
    assistant.close()
    return out


# --- report ------------------------------------------------------------------------------------
def report(res: dict[str, Any], env: dict[str, Any]) -> str:
    imp, ask, upd = res["import_index"], res["ask"], res["update"]
    items = imp["index"]["total"]
    rows_i = [
        ["import (read + validate + store)", f"{imp['import_s']:.2f}", f"{items} items"],
        ["encoder created", f"{imp['encoder_load_s']:.2f}", f"{imp['encoder']} (weights may load lazily)"],
        [
            "index build (embed all + BM25 + save)",
            f"{imp['index_s']:.2f}",
            f"{imp['index']['embedded']} embedded, {imp['index']['ann_kind']}, "
            f"{imp['index_s'] * 1000 / max(items, 1):.1f} ms per item",
        ],
        ["worker process, start to exit", f"{imp['process_wall_s']:.2f}", "includes Python imports"],
        ["govbot train (for information)", f"{res['train_s']:.2f}", "intent + category + calibration"],
    ]
    rows_ii = [
        ["import + index worker", "ru_maxrss", _f1(imp["ru_maxrss_mib"])],
        ["import + index worker, after import only", "ru_maxrss", _f1(imp["ru_maxrss_mib_after_import"])],
        ["govbot ask --batch", "/usr/bin/time -v", _f1(ask["peak_rss_mib_time_v"])],
        ["govbot ask --batch", "VmHWM polling", _f1(ask["peak_rss_mib_vmhwm_poll"])],
    ]
    lat, gap = ask["latency_ms"], ask["wall_gap_ms"]
    rows_iii = [
        ["latency_ms (reply field)", lat["n"], *_ms(lat)],
        ["gap between output lines", gap["n"], *_ms(gap)],
    ]
    rows_iv = [
        [
            "no change (first call in the process)",
            upd["no_change_first_call"]["embedded"],
            _f1(upd["no_change_first_call"]["seconds"]),
            "",
        ],
        [
            f"one guide changed ({upd['changed_item']['title']})",
            upd["incremental"]["embedded"],
            _f1(upd["incremental"]["seconds"]),
            "1.0x",
        ],
        ["no change (warm)", upd["no_change"]["embedded"], _f1(upd["no_change"]["seconds"]), ""],
    ]
    if "full" in upd:
        rows_iv.append(
            [
                "full rebuild (full=True)",
                upd["full"]["embedded"],
                _f1(upd["full"]["seconds"]),
                f"{upd['full_over_incremental']}x",
            ]
        )
    actions = ", ".join(f"{k} {v}" for k, v in sorted(ask["actions"].items()))
    parts = [
        header("Import, index, memory and ask latency on the full Guangdong catalog", env),
        "### (i) Import and index a fresh data directory",
        "",
        markdown_table(["step", "seconds", "note"], rows_i),
        "",
        "### (ii) Peak resident memory (MiB)",
        "",
        markdown_table(["process", "measured with", "peak RSS MiB"], rows_ii),
        "",
        f"### (iii) Warm `govbot ask --batch --json`, {ask['questions']} questions (first {WARMUP} skipped)",
        "",
        markdown_table(["measure", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows_iii),
        "",
        f"Start-up to first reply {ask['startup_to_first_reply_s']} s; whole process "
        f"{ask['process_wall_s']} s = {ask['wall_per_question_ms']} ms per question including "
        f"start-up. Actions: {actions}.",
        "",
        "### (iv) Updating one item vs rebuilding (build_kb_index in one warm process)",
        "",
        markdown_table(["build", "embedded", "seconds", "vs incremental"], rows_iv),
        "",
        f"Encoder load before the timed builds: {upd['encoder_load_s']} s. Machine shared "
        "and noisy: read ratios, not absolute values.",
    ]
    return "\n".join(parts) + "\n"


def run(args: argparse.Namespace) -> int:
    require_shared(CATALOG)
    env = environment()
    if args.data_dir:
        data_dir = Path(args.data_dir).resolve()
        if data_dir.exists() and any(data_dir.iterdir()):
            raise SystemExit(f"error: {data_dir} is not empty; latency.py needs a fresh data directory")
        data_dir.mkdir(parents=True, exist_ok=True)
    else:
        BENCH_VAR.mkdir(parents=True, exist_ok=True)
        data_dir = Path(tempfile.mkdtemp(prefix="latency-", dir=BENCH_VAR))
    tmp = Path(tempfile.mkdtemp(prefix="govbot-latency-"))
    results: dict[str, Any] = {"data_dir": str(data_dir)}
    try:
        print(f"(i) import + index into {data_dir} …", file=sys.stderr)
        results["import_index"] = run_import(data_dir, tmp, args.timeout)
        print("train …", file=sys.stderr)
        with Stopwatch() as train:
            subprocess.run(
                [str(GOVBOT), "--data-dir", str(data_dir), "train"],
                check=True,
                timeout=args.timeout,
                capture_output=True,
            )
        results["train_s"] = round(train.seconds, 2)
        print(f"(iii) govbot ask --batch, {args.questions} questions …", file=sys.stderr)
        results["ask"] = run_ask(data_dir, tmp, args.questions, args.timeout)
        print("(iv) one-item update vs full rebuild …", file=sys.stderr)
        results["update"] = run_update(data_dir, args.skip_full)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not args.keep and not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    write_json(args.out, {"environment": env, **results})  # kept even if the report fails
    text = report(results, env)
    print(text)
    write_json(args.out, {"environment": env, **results, "markdown": text})
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = docstring_parser(__doc__)
    parser.add_argument(
        "--data-dir",
        help="an empty or absent folder to use (default: a new folder under var/bench, removed "
        "afterwards unless --keep)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the default data directory")
    parser.add_argument(
        "--questions", type=int, default=300, help="questions for ask --batch (default: %(default)s)"
    )
    parser.add_argument("--skip-full", action="store_true", help="skip the full rebuild in (iv)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=900,
        help="seconds each subprocess step may take (default: %(default)s)",
    )
    parser.add_argument("--out", help="write JSON results here")
    parser.add_argument("--worker-import", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker_import:
        worker_import(Path(args.worker_import), Path(args.result))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
