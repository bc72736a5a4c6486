"""`govbot calendar`: the working calendar as the ticket desk counts it.

`govbot calendar 2026-10` (a month), `govbot calendar 2026-10-10` (a day) and
`govbot calendar deadline --from "2026-09-30 16:00" --working-days 2` (the deadline the desk
would set). A thin shell around tickets.sla / tickets.workcalendar; no database is opened.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cli.context import cli_settings, fail
from core.clock import Clock, system_clock
from core.settings import Settings
from tickets.sla import SlaPolicy
from tickets.workcalendar import WEEKDAY_NAMES, DayInfo, WorkCalendar


class _DefaultShow(TyperGroup):
    """`govbot calendar 2026-10` runs `show 2026-10`: a date is not a command name."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


calendar_app = typer.Typer(
    cls=_DefaultShow,
    help="Working days, official holidays and 调休 as the ticket desk counts them.",
    no_args_is_help=True,
)


def coverage_of(settings: Settings, clock: Clock = system_clock) -> dict[str, Any]:
    """Up to which day the official calendar is known (for `govbot config` and this group)."""
    return SlaPolicy.from_settings(settings.tickets).calendar.coverage(clock()).as_dict()


def _policy() -> SlaPolicy:
    return SlaPolicy.from_settings(cli_settings().tickets)


def _header(calendar: WorkCalendar) -> str:
    cover = calendar.coverage(system_clock())
    if cover.warning:
        typer.echo(f"warning: {cover.warning}", err=True)
    known = cover.known_until.isoformat() if cover.known_until else "（无官方日历）"
    return f"官方日历已知至 {known}（{'，'.join(cover.sources) or '未启用'}）"


def _line(info: DayInfo) -> str:
    work = "上班" if info.working else "休息"
    return f"{info.day.isoformat()} {_weekday(info.day)} {work}  {info.label}"


def _weekday(day: date) -> str:
    return f"周{WEEKDAY_NAMES[day.weekday()]}"


def _hours(calendar: WorkCalendar) -> str:
    return "，".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in calendar.periods)


@calendar_app.command("show")
def show(
    when: Annotated[str, typer.Argument(help="A month (YYYY-MM) or a day (YYYY-MM-DD).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the days as JSON.")] = False,
) -> None:
    """The days of a month, or one day: working or not, and why (法定假日, 调休上班, 本地休息日 ...)."""
    calendar = _policy().calendar
    if re.fullmatch(r"\d{4}-\d{2}", when):
        year, month = (int(part) for part in when.split("-"))
        if not 1 <= month <= 12:
            fail(f"no such month: {when}", code=2)
        days = calendar.month(year, month)
    else:
        try:
            days = [calendar.day_info(date.fromisoformat(when))]
        except ValueError:
            fail(f"expected YYYY-MM or YYYY-MM-DD, got {when!r}", code=2)
    if as_json:
        typer.echo(json.dumps([d.as_dict() for d in days], ensure_ascii=False, indent=1))
        return
    typer.echo(f"{_header(calendar)}；工作时间 {_hours(calendar)}（{calendar.zone.key}）")
    for info in days:
        typer.echo(_line(info))
    if len(days) > 1:
        working = sum(d.working for d in days)
        typer.echo(f"工作日 {working} 天，休息日 {len(days) - working} 天")


@calendar_app.command("deadline")
def deadline(
    start: Annotated[str, typer.Option("--from", help="Received at, local time: 'YYYY-MM-DD HH:MM'.")],
    working_days: Annotated[float, typer.Option("--working-days", help="Working days allowed.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """The deadline the desk would set: `--working-days` of working time after `--from`."""
    policy = _policy()
    calendar = policy.calendar
    try:
        received = datetime.fromisoformat(start)
    except ValueError:
        fail(f"expected 'YYYY-MM-DD HH:MM', got {start!r}", code=2)
    if received.tzinfo is None:
        received = received.replace(tzinfo=calendar.zone)
    if working_days <= 0:
        fail("--working-days must be positive", code=2)
    due = policy.working_deadline(received, working_days).astimezone(calendar.zone)
    estimated = calendar.estimated(due)
    if as_json:
        body = {
            "from": received.astimezone(calendar.zone).isoformat(),
            "working_days": working_days,
            "deadline": due.isoformat(),
            "estimated": estimated,
            "calendar": calendar.coverage(system_clock()).as_dict(),
        }
        typer.echo(json.dumps(body, ensure_ascii=False, indent=1))
        return
    typer.echo(_header(calendar))
    typer.echo(
        f"受理 {received:%Y-%m-%d %H:%M}（{_weekday(received)}），{working_days:g} 个工作日 → "
        f"截止 {due:%Y-%m-%d %H:%M}（{_weekday(due)}）"
    )
    if estimated:
        typer.echo("注意：截止日超出已知的官方日历，仅按周一至周五估算（工单会标记 deadline_estimated）")
