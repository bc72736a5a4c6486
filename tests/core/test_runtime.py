"""The thread runtime: sized from config, put in the environment before the OpenMP runtimes load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.runtime import engines_per_worker, server_answers, thread_env
from core.settings import WORKERS_ENV, RuntimeSettings, ServerSettings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_zero_threads_means_one_per_core() -> None:
    env = thread_env(RuntimeSettings(threads=0, blas_threads=1, omp_wait_policy="PASSIVE"), cpu_count=6)
    assert env == {
        "OMP_NUM_THREADS": "6",
        "OMP_WAIT_POLICY": "PASSIVE",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


@pytest.mark.parametrize(
    ("cpus", "answers", "threads"),
    [(2, 1, "2"), (2, 2, "1"), (2, 4, "1"), (8, 2, "4"), (8, 3, "2"), (6, 12, "1")],
)
def test_zero_threads_share_the_cores_among_answers_at_once(cpus: int, answers: int, threads: str) -> None:
    env = thread_env(RuntimeSettings(threads=0, blas_threads=0), cpu_count=cpus, answers=answers)
    assert (env["OMP_NUM_THREADS"], env["OPENBLAS_NUM_THREADS"]) == (threads, threads)


def test_the_server_runs_workers_times_engines_answers() -> None:
    assert engines_per_worker(ServerSettings(engines=0), cpu_count=4) == 4  # one per core
    assert engines_per_worker(ServerSettings(engines=3), cpu_count=4) == 3
    assert server_answers(ServerSettings(workers=2, engines=0), cpu_count=2) == 4
    assert server_answers(ServerSettings(workers=3, engines=1), cpu_count=2) == 3


def test_serve_tells_its_workers_how_many_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert load_settings().server.workers == 3
    monkeypatch.delenv(WORKERS_ENV)
    assert load_settings().server.workers == 1  # config.yml's


def test_explicit_counts_win() -> None:
    env = thread_env(RuntimeSettings(threads=3, blas_threads=0, omp_wait_policy="ACTIVE"), cpu_count=8)
    assert (env["OMP_NUM_THREADS"], env["OPENBLAS_NUM_THREADS"], env["OMP_WAIT_POLICY"]) == (
        "3",
        "3",
        "ACTIVE",
    )


def test_applied_in_a_fresh_process_limits_loaded_blas() -> None:
    """numpy's OpenBLAS is loaded before the call and is resized in place; the env is set for the rest."""
    code = (
        "import numpy\n"
        "from core.runtime import apply_runtime, applied\n"
        "from core.settings import RuntimeSettings\n"
        "apply_runtime(RuntimeSettings(threads=2, blas_threads=1))\n"
        "from threadpoolctl import threadpool_info\n"
        "import os\n"
        "print(sorted({p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'}),"
        " os.environ['OMP_WAIT_POLICY'], applied()['OMP_NUM_THREADS'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split() == ["[1]", "PASSIVE", "2"], done.stdout + done.stderr
