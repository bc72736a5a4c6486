"""Times as citizens read them: local zone, 今天/明天 against an injected now, dates in words."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.citizen_time import citizen_deadline, citizen_time

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # Tue 1 Dec 10:00 in Beijing


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 12, 1, 10, 0, tzinfo=UTC), "今天18:00"),
        (datetime(2026, 12, 1, 16, 0, tzinfo=UTC), "明天00:00"),  # already tomorrow in Beijing
        (datetime(2026, 12, 2, 1, 30, tzinfo=UTC), "明天09:30"),
        (datetime(2026, 12, 3, 10, 0, tzinfo=UTC), "12月3日18:00"),
        (datetime(2026, 11, 30, 10, 0, tzinfo=UTC), "11月30日18:00"),  # a past day is a date
        (datetime(2027, 1, 4, 10, 0, tzinfo=UTC), "2027年1月4日18:00"),
        (datetime(2026, 12, 1, 10, 0), "今天18:00"),  # naive values are the store's UTC
    ],
)
def test_local_words(value: datetime, expected: str) -> None:
    assert citizen_time(value, zone=SHANGHAI, now=NOW) == expected


def test_today_is_the_local_day_not_the_utc_one() -> None:
    late = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # already 2 Dec 01:00 in Beijing
    deadline = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert citizen_time(deadline, zone=SHANGHAI, now=late) == "今天18:00"
    assert citizen_time(deadline, zone=ZoneInfo("UTC"), now=late) == "明天10:00"


def test_deadline_says_before_and_none_is_a_dash() -> None:
    assert citizen_deadline(datetime(2026, 12, 2, 10, 0, tzinfo=UTC), zone=SHANGHAI, now=NOW) == "明天18:00前"
    assert citizen_deadline(None, zone=SHANGHAI, now=NOW) == "—"
