"""Where a server's start goes: named phases with their seconds, logged and shown by /readyz.

A machine joining with an empty data directory is judged against the time it takes to load
the stored vectors (issue 12); without the phases a slow start cannot be attributed to the
interpreter, the imports, the index bootstrap or the models. One timer per process: `govbot
serve` with one worker marks the command's phases and the app's in the same one; each extra
worker process times its own start.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

Ticker = Callable[[], float]  # monotonic seconds


def process_age(ticker: Ticker = time.monotonic) -> float:
    """Seconds since this process was created (Linux /proc); 0.0 where that cannot be read."""
    try:
        with open(f"/proc/{os.getpid()}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as uptime:
            now_since_boot = float(uptime.read().split()[0])
        started_since_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(now_since_boot - started_since_boot, 0.0)


class StartupTimer:
    """Consecutive phases of one start: `mark(name)` closes the phase that ran since the
    previous mark (or since the process began) and names it; `block(name)` times a block
    that may run in another thread and is kept apart from the consecutive ones."""

    def __init__(self, ticker: Ticker = time.monotonic, age: float = 0.0) -> None:
        self._ticker = ticker
        self._origin = ticker() - age  # when the process began, on the ticker's scale
        self._last = self._origin
        self._lock = threading.Lock()
        self.phases: dict[str, float] = {}
        self.blocks: dict[str, float] = {}
        self.ready_after: float | None = None

    def mark(self, name: str) -> float:
        """Record the phase `name` as ending now; its seconds."""
        with self._lock:
            now = self._ticker()
            seconds = now - self._last
            self.phases[name] = round(seconds, 3)
            self._last = now
            return seconds

    @contextmanager
    def block(self, name: str) -> Iterator[None]:
        """Time a block inside a phase (the index bootstrap, the warm-up question)."""
        started = self._ticker()
        try:
            yield
        finally:
            with self._lock:
                self.blocks[name] = round(self._ticker() - started, 3)

    def ready(self) -> dict[str, Any]:
        """Close the last phase as ready; the report, also logged as `server.startup`."""
        with self._lock:
            self.ready_after = round(self._ticker() - self._origin, 3)
        report = self.report()
        log.info("server.startup", extra={"startup": report})
        return report

    def report(self) -> dict[str, Any]:
        """Phases in order with their seconds, the timed blocks, and the total from the process's
        start to ready (None until then)."""
        with self._lock:
            return {
                "phases": dict(self.phases),
                "blocks": dict(self.blocks),
                "ready_after_s": self.ready_after,
            }


STARTUP = StartupTimer(age=process_age())  # this process's start, marked by `govbot serve`
_claimed = False


def app_startup_timer() -> StartupTimer:
    """The timer an app marks its start on: the process's own for the first app (so `govbot
    serve` reports from the interpreter's start), a fresh one from now for any later app in the
    same process (tests build many)."""
    global _claimed
    if _claimed:
        return StartupTimer()
    _claimed = True
    return STARTUP
