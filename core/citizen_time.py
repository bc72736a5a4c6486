"""Times as a citizen reads them: in the configured local zone, in words (今天18:00前).

Deadlines are stored in UTC; a citizen in Guangzhou who reads "2026-12-02 10:00" waits until
10:00 while the desk counts to 18:00. Every door that shows a time to a citizen (chat, WeChat,
the Rasa REST channel and action, status replies) formats it here, with the zone from
`tickets.timezone` and an injected "now" for 今天/明天. Stdlib only: the Rasa action server's
lean environment imports it too.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

NO_TIME = "—"


def citizen_time(value: datetime | None, *, zone: tzinfo, now: datetime) -> str:
    """'今天18:00', '明天09:30', '12月3日18:00', or '2027年1月4日18:00' in another year.

    Naive values are UTC (the ticket store's convention); `now` decides 今天/明天 in `zone`.
    """
    if value is None:
        return NO_TIME
    local = _aware(value).astimezone(zone)
    today = _aware(now).astimezone(zone).date()
    clock = f"{local:%H:%M}"
    days = (local.date() - today).days
    if days == 0:
        return f"今天{clock}"
    if days == 1:
        return f"明天{clock}"
    if local.year == today.year:
        return f"{local.month}月{local.day}日{clock}"
    return f"{local.year}年{local.month}月{local.day}日{clock}"


def citizen_deadline(value: datetime | None, *, zone: tzinfo, now: datetime) -> str:
    """A deadline: '今天18:00前' (or '—' when there is none)."""
    text = citizen_time(value, zone=zone, now=now)
    return text if value is None else f"{text}前"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
