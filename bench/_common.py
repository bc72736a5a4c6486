"""Helpers shared by the benchmark scripts in this folder (not a benchmark itself).

Where the repository and ../shared are, a markdown table, percentiles that do
not mind short lists, a header that says what was measured where, and the
Guangdong-catalog preparation that retrieval_compare.py and latency.py share.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
CATALOG = SHARED_DIR / "data" / "guangdong_services.jsonl"
DEV_QUESTIONS = SHARED_DIR / "eval" / "dev_gd_questions.tsv"
MESSAGES = SHARED_DIR / "data" / "citizen_messages_labeled.jsonl"
COLLOQUIAL = REPO_ROOT / "bench" / "data" / "colloquial_gd.tsv"
BENCH_VAR = REPO_ROOT / "var" / "bench"

if str(REPO_ROOT) not in sys.path:  # run as `python bench/x.py` from anywhere
    sys.path.insert(0, str(REPO_ROOT))


def require_shared(*paths: Path) -> None:
    """Exit (status 0, as a skip) with a clear message when ../shared or a file in it is absent."""
    missing = [p for p in paths if not p.exists()]
    if not SHARED_DIR.is_dir() or missing:
        what = ", ".join(str(p) for p in missing) or str(SHARED_DIR)
        print(
            f"skipped: {what} not found. This benchmark reads the shared data at "
            f"<repo>/../shared ({SHARED_DIR}); check it out next to the repository to run it.",
            file=sys.stderr,
        )
        raise SystemExit(0)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


def latency_summary(values_ms: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values_ms),
        "p50_ms": round(percentile(values_ms, 50), 2),
        "p95_ms": round(percentile(values_ms, 95), 2),
        "p99_ms": round(percentile(values_ms, 99), 2),
        "max_ms": round(max(values_ms), 2) if values_ms else float("nan"),
    }


def _git(*args: str) -> str:
    """Read-only git queries (--no-optional-locks: never touch .git/index)."""
    try:
        done = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""


def _python() -> str:
    exe = Path(sys.executable)
    return str(exe.relative_to(REPO_ROOT)) if exe.is_relative_to(REPO_ROOT) else exe.name


def environment() -> dict[str, Any]:
    """What a figure depends on: code version (and local edits), machine, load, time."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    dirty = [line[3:] for line in status.splitlines() if len(line) > 3]
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "command": shlex.join([_python(), *sys.argv]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git("rev-parse", "--short", "HEAD").strip() or "unknown",
        "modified_files": dirty,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "loadavg_at_start": [round(x, 2) for x in load],
    }


def header(title: str, env: dict[str, Any]) -> str:
    edits = ", ".join(env["modified_files"]) or "none"
    return (
        f"## {title}\n\n"
        f"`{env['command']}` — {env['date']}, commit {env['commit']} "
        f"(uncommitted edits: {edits}), Python {env['python']}, {env['machine']}, "
        f"load average {env['loadavg_at_start'][0]} at start\n"
    )


def write_json(path: str | Path | None, data: Any) -> None:
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str) + "\n")


def data_dir_for(arg: str | None, name: str) -> Path:
    """--data-dir, or var/bench/NAME under the repository (git-ignored)."""
    return Path(arg).resolve() if arg else BENCH_VAR / name


class Stopwatch:
    """`with Stopwatch() as sw: ...` then sw.seconds."""

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started


def import_catalog(kb: Any) -> dict[str, Any]:
    """Import ../shared's Guangdong catalog with the gd-catalog importer into `kb`; timings."""
    from knowledge.importers import ImportOptions, import_path

    with Stopwatch() as read:
        result = import_path(CATALOG, "gd-catalog", ImportOptions())
    with Stopwatch() as store:
        added, changed = kb.upsert_many(result.items)
    return {
        "records_read": len(result.items),
        "merged_duplicates": result.merged_duplicates,
        "rejected": len(result.errors),
        "added": added,
        "changed": changed,
        "read_s": round(read.seconds, 3),
        "store_s": round(store.seconds, 3),
    }


def docstring_parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser whose --help is the script's docstring: first paragraph, then the rest."""
    text = doc or ""
    head, _, rest = text.partition("\n\n")
    return argparse.ArgumentParser(
        description=head, epilog=rest, formatter_class=argparse.RawDescriptionHelpFormatter
    )
