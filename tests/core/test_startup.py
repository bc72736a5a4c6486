"""The start-up timer: consecutive phases, blocks inside them, the report /readyz shows."""

from __future__ import annotations

import time

import pytest

from core import startup
from core.startup import StartupTimer, app_startup_timer, process_age

IMPORTED_AT = time.monotonic()


class Ticker:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_phases_run_back_to_back_from_the_process_start() -> None:
    tick = Ticker()
    timer = StartupTimer(tick, age=2.0)  # the process began 2 s before the timer was made
    tick.now += 1.5
    assert timer.mark("imports") == pytest.approx(3.5)
    tick.now += 0.25
    timer.mark("index_bootstrap")
    assert timer.report() == {
        "phases": {"imports": 3.5, "index_bootstrap": 0.25},
        "blocks": {},
        "ready_after_s": None,
    }
    tick.now += 0.5
    assert timer.ready()["ready_after_s"] == pytest.approx(4.25)


def test_a_block_is_timed_apart_and_even_when_it_fails() -> None:
    tick = Ticker()
    timer = StartupTimer(tick)
    with timer.block("encoder_load"):
        tick.now += 0.75
    with pytest.raises(RuntimeError), timer.block("index_sync"):
        tick.now += 0.5
        raise RuntimeError("database gone")
    timer.mark("index_bootstrap")
    report = timer.report()
    assert report["blocks"] == {"encoder_load": 0.75, "index_sync": 0.5}
    assert report["phases"] == {"index_bootstrap": 1.25}


def test_the_first_app_takes_the_process_timer_later_apps_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(startup, "_claimed", False)
    assert app_startup_timer() is startup.STARTUP
    later = app_startup_timer()
    assert later is not startup.STARTUP and later.phases == {}


def test_the_process_is_older_than_this_module() -> None:
    assert process_age() >= time.monotonic() - IMPORTED_AT - 0.05  # /proc counts in 10 ms ticks, twice
