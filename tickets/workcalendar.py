"""A working-hours calendar: periods of a working day, weekdays, holidays and 调休 make-up days.

Pure functions of aware datetimes; local time is the configured zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 3660  # no deadline search runs for more than ten years of calendar


def _hm(text: str) -> time:
    hours, _, minutes = text.partition(":")
    return time(int(hours), int(minutes or 0))


@dataclass(frozen=True)
class WorkCalendar:
    zone: ZoneInfo
    periods: tuple[tuple[time, time], ...]
    weekdays: frozenset[int]
    holidays: frozenset[date]
    makeup_days: frozenset[date]

    @classmethod
    def build(
        cls,
        *,
        timezone: str,
        periods: Iterable[tuple[str, str]],
        weekdays: Iterable[int],
        holidays: Iterable[str] = (),
        makeup_days: Iterable[str] = (),
    ) -> WorkCalendar:
        spans = tuple(sorted((_hm(a), _hm(b)) for a, b in periods))
        if not spans or any(a >= b for a, b in spans):
            raise ValueError("working hours need at least one period with start before end")
        if any(spans[i][1] > spans[i + 1][0] for i in range(len(spans) - 1)):
            raise ValueError("working-hour periods overlap")
        return cls(
            zone=ZoneInfo(timezone),
            periods=spans,
            weekdays=frozenset(weekdays),
            holidays=frozenset(date.fromisoformat(d) for d in holidays),
            makeup_days=frozenset(date.fromisoformat(d) for d in makeup_days),
        )

    @property
    def day_length(self) -> timedelta:
        """Working time in one working day (e.g. 7.5 h for 09:00-12:00, 13:30-18:00)."""
        return sum(
            (datetime.combine(date.min, b) - datetime.combine(date.min, a) for a, b in self.periods),
            timedelta(),
        )

    def is_workday(self, day: date) -> bool:
        if day in self.holidays:
            return False
        if day in self.makeup_days:
            return True
        return day.isoweekday() in self.weekdays

    def _spans_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working spans (local, aware) from `start` on, clipped to start."""
        local = start.astimezone(self.zone)
        day = local.date()
        for _ in range(MAX_DAYS):
            if self.is_workday(day):
                for a, b in self.periods:
                    begin = datetime.combine(day, a, tzinfo=self.zone)
                    end = datetime.combine(day, b, tzinfo=self.zone)
                    if end > local:
                        yield max(begin, local), end
            day += timedelta(days=1)

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The moment when `amount` of working time has passed after `start`."""
        remaining = amount
        for begin, end in self._spans_from(start):
            if remaining <= end - begin:
                return begin + remaining
            remaining -= end - begin
        raise ValueError(f"no working time left within {MAX_DAYS} days of {start}")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two moments (zero when end is not after start)."""
        total = timedelta()
        if end <= start:
            return total
        for begin, stop in self._spans_from(start):
            if begin >= end:
                break
            total += min(stop, end) - begin
        return total
