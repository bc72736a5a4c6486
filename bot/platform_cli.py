"""`govbot tickets push` and `govbot tickets platform-consent`: the 12345 platform link from the
command line (registered on the tickets command group when bot.cli imports this module)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tickets.cli import open_desk, tickets_app


@tickets_app.command("push")
def push() -> None:
    """Push pending outbox rows (new tickets, status changes) to the external 12345 platform."""
    from bot.cli import _settings
    from bot.platform import PlatformLink
    from tickets.platform_outbox import pending_count

    with open_desk() as desk:
        link = PlatformLink(_settings(None), desk)
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
    from tickets.platform_outbox import record_consent

    with open_desk() as desk:
        desk.db.run(lambda s: record_consent(session=s, ticket_no=ticket_no, actor=actor, now=desk.clock()))
        typer.echo(f"{ticket_no}: phone may be shared with the 12345 platform")
