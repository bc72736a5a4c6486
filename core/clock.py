"""The one notion of "now": an injected callable returning an aware UTC datetime.

Everything that keeps time (deadlines, leases, retries, replay windows) takes a `Clock`, so
tests drive time by hand instead of sleeping or racing the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, aware and in UTC."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told: `clock.advance(seconds=30)`. For tests and replays."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Beijing

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set_local(self, text: str, timezone: str = "Asia/Shanghai") -> datetime:
        """Set from local wall time 'YYYY-MM-DD HH:MM', as a desk in `timezone` reads it."""
        local = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(timezone))
        self.now = local.astimezone(UTC)
        return self.now

    def timestamp(self) -> float:
        """Seconds since the epoch, for code that speaks Unix time (signatures, WeChat)."""
        return self.now.timestamp()
