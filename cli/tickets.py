"""`govbot tickets ...` and `govbot users ...`: a thin shell around TicketDesk.

Every command brings the schema up to date first (`upgrade head`). The CLI acts with the
operator's rights (a supervisor named by --actor), since it runs where the database is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import typer

from cli.context import cli_settings
from core import vocab
from tickets.errors import TicketError
from tickets.intake import TicketRefusedError, intake, validate
from tickets.lifecycle import TransitionRequest
from tickets.service import TicketDesk
from tickets.users import Account

tickets_app = typer.Typer(
    help="12345 tickets: create, list, show, transition, SLA sweep and on-time rates.", no_args_is_help=True
)
users_app = typer.Typer(help="Staff accounts for the ticket API (argon2 passwords).", no_args_is_help=True)

Actor = Annotated[str, typer.Option("--actor", help="Who acts (recorded in the audit trail).")]


@contextmanager
def open_desk() -> Iterator[TicketDesk]:
    """The ticket desk of the CLI's settings, migrated; domain errors become exit code 1."""
    desk = TicketDesk.open(cli_settings())
    try:
        desk.migrate()
        yield desk
    except TicketError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        desk.close()


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=1, default=str))


def _operator(name: str) -> Account:
    return Account(name=name, role="supervisor", department=None)


@tickets_app.command("migrate")
def migrate() -> None:
    """Create or upgrade the ticket database schema (Alembic `upgrade head`)."""
    with open_desk() as desk:
        typer.echo(f"ticket database at head ({desk.db.engine.url.render_as_string(hide_password=True)})")


@tickets_app.command("create")
def create(
    title: Annotated[str, typer.Option(help="One line: what the matter is.")],
    content: Annotated[str, typer.Option(help="The citizen's account.")],
    phone: Annotated[str, typer.Option(help="Citizen's mobile or landline number.")],
    name: Annotated[str | None, typer.Option(help="Citizen's name.")] = None,
    location: Annotated[str | None, typer.Option(help="Where.")] = None,
    category: Annotated[str | None, typer.Option(help="12345 category '一级/二级/三级'.")] = None,
    type: Annotated[str, typer.Option("--type", help="咨询/求助/投诉/举报/建议/表扬.")] = "求助",
    channel: Annotated[str, typer.Option(help=" | ".join(vocab.CHANNELS) + ".")] = "hotline",
    urgent: Annotated[bool, typer.Option(help="Mark urgent (2-hour feedback).")] = False,
    department: Annotated[str | None, typer.Option(help="Override the routing table.")] = None,
    actor: Actor = "cli",
) -> None:
    """Open a ticket (through the one intake) and print its number and deadlines."""
    fields = dict(
        title=title,
        content=content,
        phone=phone,
        name=name,
        location=location,
        category=category,
        type=type,
        channel=channel,
        urgent=urgent,
        department=department,
    )
    try:
        data = validate(fields)
    except TicketRefusedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    with open_desk() as desk:
        receipt = intake(desk, data, actor=actor)
        _print(
            {
                "ticket_no": receipt.ticket_no,
                "status": receipt.status,
                "urgency": receipt.urgency,
                "department": receipt.department,
                "feedback_deadline": receipt.feedback_deadline.isoformat(),
                "completion_deadline": receipt.completion_deadline.isoformat(),
            }
        )


@tickets_app.command("list")
def list_(
    queue: Annotated[str, typer.Option(help="open | at_risk | overdue | all.")] = "open",
    limit: int = 50,
) -> None:
    """List tickets of a queue (number, status, deadline, title)."""
    with open_desk() as desk:
        for row in desk.queue(viewer=_operator("cli"), queue=queue, limit=limit):
            flag = " 超期" if row.overdue else " 预警" if row.at_risk else ""
            typer.echo(
                f"{row.ticket_no}\t{row.status}\t{row.feedback_deadline.isoformat()}\t{row.title}{flag}"
            )


@tickets_app.command("show")
def show(ticket_no: str) -> None:
    """One ticket (phone masked) with its audit trail, as JSON."""
    with open_desk() as desk:
        view = desk.show(ticket_no, viewer=_operator("cli"))
        _print({**view.ticket.model_dump(mode="json"), "audit": view.audit})


@tickets_app.command("transition")
def transition(
    ticket_no: str,
    to: Annotated[str, typer.Argument(help="Target state, e.g. 已受理, 已交办, 已合并.")],
    department: Annotated[str | None, typer.Option(help="For 交办 / 重新交办.")] = None,
    note: Annotated[str | None, typer.Option(help="Reason or result (退回 and 反馈 need one).")] = None,
    satisfaction: Annotated[str | None, typer.Option(help="For 回访: 满意/基本满意/不满意.")] = None,
    merged_into: Annotated[str | None, typer.Option(help="For 合并: the open ticket it duplicates.")] = None,
    actor: Actor = "cli",
) -> None:
    """Move a ticket to another state (refused with the allowed states when illegal)."""
    request = TransitionRequest(
        to=to, department=department, note=note, satisfaction=satisfaction, merged_into=merged_into
    )
    with open_desk() as desk:
        moved = desk.transition(ticket_no, request, viewer=_operator(actor))
        typer.echo(f"{moved.ticket_no}: {moved.status}")


@tickets_app.command("sweep")
def sweep() -> None:
    """Flag at-risk and overdue tickets, escalate (督办) each once per state, send webhooks."""
    with open_desk() as desk:
        report, delivery = desk.sweep()
        _print(
            {
                **report.as_dict(),
                "delivered": delivery.delivered,
                "retrying": delivery.retrying,
                "failed": delivery.failed,
            }
        )


@tickets_app.command("stats")
def stats(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, local), inclusive.")],
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD, local), inclusive.")],
) -> None:
    """按时反馈率 and 按时办结率 of the tickets received in a date range."""
    with open_desk() as desk:
        zone = desk.policy.calendar.zone
        try:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        lo = datetime.combine(first, time(), tzinfo=zone).astimezone(UTC)
        hi = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
        _print({"from": start, "to": end, **desk.rates(lo, hi).as_dict()})


@users_app.command("add")
def add_user(
    username: str,
    role: Annotated[str, typer.Option(help="agent | handler | supervisor | admin.")],
    department: Annotated[str | None, typer.Option(help="Department (handlers need one).")] = None,
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="GOVBOT_USER_PASSWORD",
            help="Asked for when not in GOVBOT_USER_PASSWORD.",
        ),
    ] = "",
) -> None:
    """Add a staff account (the password is asked for, or read from GOVBOT_USER_PASSWORD)."""
    with open_desk() as desk:
        desk.add_user(username, password, role=role, department=department)
        typer.echo(f"user {username} added ({role}{', ' + department if department else ''})")


@users_app.command("disable")
def disable_user(username: str) -> None:
    """Disable a staff account: it can no longer log in, and its tokens stop working at once."""
    with open_desk() as desk:
        revoked = desk.disable_user(username)
        typer.echo(f"user {username} disabled ({revoked} token(s) revoked)")


# --- the external 12345 platform ------------------------------------------------------------
@tickets_app.command("push")
def push() -> None:
    """Push pending outbox rows (new tickets, status changes) to the external 12345 platform."""
    from jobs.platform import PlatformLink
    from tickets.platform.push import pending_count

    with open_desk() as desk:
        link = PlatformLink(cli_settings(), desk)
        try:
            if not link.ready:
                typer.echo(
                    "error: hotline_platform is not enabled, or base_url / GOVBOT_PLATFORM_SECRET unset",
                    err=True,
                )
                raise typer.Exit(1)
            report = link.push()
        finally:
            link.close()
        with desk.db.session() as s:
            pending = pending_count(session=s)
        shown = {k: len(v) for k, v in report.as_dict().items()}
        typer.echo(json.dumps({**shown, "pending": pending}, ensure_ascii=False))


@tickets_app.command("platform-consent")
def platform_consent(
    ticket_no: str,
    actor: Annotated[str, typer.Option("--actor", help="Who recorded the consent (audit trail).")] = "cli",
) -> None:
    """Record that the citizen agreed to share their phone number with the 12345 platform."""
    from tickets.platform.recorder import record_consent

    with open_desk() as desk:
        desk.db.run(lambda s: record_consent(session=s, ticket_no=ticket_no, actor=actor, now=desk.clock()))
        typer.echo(f"{ticket_no}: phone may be shared with the 12345 platform")
