"""A working-hours calendar on China's official schedule: periods of a working day, weekdays,
the State Council's holidays and 调休 make-up working days, and local additions.

The official schedule comes from the `chinesecalendar` package (one year at a time, as the State
Council publishes it); config.yml can supply a year the package does not know yet and add local
closed days or 调休. Days after the last known year are counted on weekdays only, and the
calendar says so (`known`, `known_until`, `coverage`), so a deadline there can be flagged.

Pure functions of aware datetimes; local time is the configured zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

MAX_DAYS = 3660  # no deadline search runs for more than ten years of calendar
WEEKDAY_NAMES = "一二三四五六日"


def _hm(text: str) -> time:
    hours, _, minutes = text.partition(":")
    return time(int(hours), int(minutes or 0))


def _dates(values: Iterable[str]) -> frozenset[date]:
    return frozenset(date.fromisoformat(d) for d in values)


@dataclass(frozen=True)
class Schedule:
    """Official holidays and 调休 working days (date -> the holiday's name), and the years they cover."""

    holidays: Mapping[date, str]
    workdays: Mapping[date, str]
    years: frozenset[int]
    sources: tuple[str, ...]

    @classmethod
    def empty(cls) -> Schedule:
        return cls({}, {}, frozenset(), ())

    @classmethod
    def from_package(cls) -> Schedule:
        """Every year the installed `chinesecalendar` carries (2004 to its newest year)."""
        names = {h.value: h.chinese for h in chinese_calendar.Holiday}
        off = {d: names.get(v, v) for d, v in chinese_calendar.holidays.items()}
        work = {d: names.get(v, v) for d, v in chinese_calendar.workdays.items()}
        years = frozenset(range(min(off).year, max(off).year + 1))
        return cls(off, work, years, (f"chinesecalendar {chinese_calendar.__version__}",))

    def with_year(self, year: int, *, holidays: Iterable[str], workdays: Iterable[str]) -> Schedule:
        """This schedule with `year` replaced by the published one (config.yml): a year the package
        does not know yet, or a correction."""
        off, work = _dates(holidays), _dates(workdays)
        if off & work:
            raise ValueError(f"{year}: dates both holiday and working day: {sorted(map(str, off & work))}")
        keep_off = {d: n for d, n in self.holidays.items() if d.year != year}
        keep_work = {d: n for d, n in self.workdays.items() if d.year != year}
        return Schedule(
            {**keep_off, **dict.fromkeys(off, "法定节假日")},
            {**keep_work, **dict.fromkeys(work, "调休上班")},
            self.years | {year},
            (*self.sources, f"config.yml {year}"),
        )


@dataclass(frozen=True)
class DayInfo:
    """One day as the desk counts it, and why."""

    day: date
    working: bool
    reason: str  # official_holiday | official_workday | local_holiday | local_workday | weekday | weekend
    name: str | None  # the holiday's name (国庆节) for official days
    known: bool  # False: after the known calendar, counted on weekdays only

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "weekday": self.day.isoweekday(),
            "working": self.working,
            "reason": self.reason,
            "name": self.name,
            "known": self.known,
        }

    @property
    def label(self) -> str:
        """Chinese label for the desk: 工作日, 休息日（国庆节）, 调休上班（国庆节）..."""
        labels = {
            "official_holiday": "法定假日",
            "official_workday": "调休上班",
            "local_holiday": "本地休息日",
            "local_workday": "本地调休上班",
            "weekday": "工作日",
            "weekend": "周末",
        }
        text = labels[self.reason] + (f"（{self.name}）" if self.name else "")
        return text if self.known else f"{text}，日历未知：仅按周一至周五估算"


@dataclass(frozen=True)
class Coverage:
    """Up to which day the official schedule is known, and whether the operator must act."""

    known_from: date | None
    known_until: date | None
    sources: tuple[str, ...]
    warning: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "known_from": self.known_from.isoformat() if self.known_from else None,
            "known_until": self.known_until.isoformat() if self.known_until else None,
            "sources": list(self.sources),
            "warning": self.warning,
        }


@dataclass(frozen=True)
class WorkCalendar:
    zone: ZoneInfo
    periods: tuple[tuple[time, time], ...]
    weekdays: frozenset[int]
    holidays: frozenset[date]  # local closed days (config.yml), over the official schedule
    makeup_days: frozenset[date]  # local 调休 working days (config.yml), over the official schedule
    official: Schedule = field(default_factory=Schedule.empty)
    warn_month: int = 11  # from this month on, warn when next year is not known

    @classmethod
    def build(
        cls,
        *,
        timezone: str,
        periods: Iterable[tuple[str, str]],
        weekdays: Iterable[int],
        holidays: Iterable[str] = (),
        makeup_days: Iterable[str] = (),
        official: Schedule | None = None,
        warn_month: int = 11,
    ) -> WorkCalendar:
        spans = tuple(sorted((_hm(a), _hm(b)) for a, b in periods))
        if not spans or any(a >= b for a, b in spans):
            raise ValueError("working hours need at least one period with start before end")
        if any(spans[i][1] > spans[i + 1][0] for i in range(len(spans) - 1)):
            raise ValueError("working-hour periods overlap")
        local_off, local_work = _dates(holidays), _dates(makeup_days)
        if local_off & local_work:
            both = sorted(map(str, local_off & local_work))
            raise ValueError(f"dates both holiday and make-up day: {both}")
        return cls(
            zone=ZoneInfo(timezone),
            periods=spans,
            weekdays=frozenset(weekdays),
            holidays=local_off,
            makeup_days=local_work,
            official=official or Schedule.empty(),
            warn_month=warn_month,
        )

    @property
    def day_length(self) -> timedelta:
        """Working time in one working day (e.g. 7.5 h for 09:00-12:00, 13:30-18:00)."""
        return sum(
            (datetime.combine(date.min, b) - datetime.combine(date.min, a) for a, b in self.periods),
            timedelta(),
        )

    # --- what is known -------------------------------------------------------------------
    @property
    def known_from(self) -> date | None:
        years = self.official.years
        return date(min(years), 1, 1) if years else None

    @property
    def known_until(self) -> date | None:
        """The last day of the unbroken run of known years (None: no official schedule at all)."""
        years = self.official.years
        if not years:
            return None
        last = min(years)
        while last + 1 in years:
            last += 1
        return date(last, 12, 31)

    def known(self, day: date) -> bool:
        start, end = self.known_from, self.known_until
        return start is not None and end is not None and start <= day <= end

    def coverage(self, now: datetime) -> Coverage:
        """Coverage as of `now`; a warning when today is past it, or from `warn_month` on when
        next year is not known yet."""
        today = now.astimezone(self.zone).date()
        until = self.known_until
        warning = None
        if until is None or today > until:
            warning = "今日已超出已知的官方节假日安排：截止时间仅按周一至周五估算，请更新日历"
        elif today.month >= self.warn_month and until < date(today.year + 1, 12, 31):
            warning = f"{today.year + 1}年节假日安排尚未载入：请升级 chinesecalendar 或在 config.yml 中补充"
        return Coverage(self.known_from, until, self.official.sources, warning)

    # --- days ----------------------------------------------------------------------------
    def day_info(self, day: date) -> DayInfo:
        known = self.known(day)
        if day in self.holidays:
            return DayInfo(day, False, "local_holiday", None, known)
        if day in self.makeup_days:
            return DayInfo(day, True, "local_workday", None, known)
        if known and day in self.official.holidays:
            return DayInfo(day, False, "official_holiday", self.official.holidays[day], known)
        if known and day in self.official.workdays:
            return DayInfo(day, True, "official_workday", self.official.workdays[day], known)
        if day.isoweekday() in self.weekdays:
            return DayInfo(day, True, "weekday", None, known)
        return DayInfo(day, False, "weekend", None, known)

    def is_workday(self, day: date) -> bool:
        return self.day_info(day).working

    def month(self, year: int, month: int) -> list[DayInfo]:
        day = date(year, month, 1)
        days = []
        while day.month == month:
            days.append(self.day_info(day))
            day += timedelta(days=1)
        return days

    def is_open(self, moment: datetime) -> bool:
        """Whether `moment` lies inside a working period of a working day (local time)."""
        local = moment.astimezone(self.zone)
        if not self.is_workday(local.date()):
            return False
        return any(a <= local.time() < b for a, b in self.periods)

    def next_open(self, moment: datetime) -> datetime | None:
        """The next moment at or after `moment` that is within working hours (local, aware)."""
        for begin, _end in self._spans_from(moment):
            return begin
        return None

    # --- working time --------------------------------------------------------------------
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

    def estimated(self, moment: datetime) -> bool:
        """True when `moment` lies after the known calendar: reaching it counted weekdays only."""
        return not self.known(moment.astimezone(self.zone).date())
