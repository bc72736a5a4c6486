"""`govbot retention sweep`: delete what the retention periods (config.yml `retention`) say has
been kept long enough: old conversation rows, unfinished ticket forms, unanswered questions."""

from __future__ import annotations

import json

import typer

from bot.sessions import SqliteSessionStore
from cli.context import cli_settings
from cli.tickets import open_desk
from jobs.retention import sweep as retention_sweep

retention_app = typer.Typer(
    help="Retention of sessions, unfinished forms and unanswered questions.", no_args_is_help=True
)


@retention_app.command("sweep")
def sweep() -> None:
    """One sweep now; prints how many sessions, forms and questions went."""
    settings = cli_settings()
    with open_desk() as desk:
        sessions = None
        if not settings.secrets.redis_url:  # Redis expires its sessions by itself
            sessions = SqliteSessionStore(
                settings.sessions_path,
                settings.bot.session_ttl_minutes,
                keyring=desk.keyring,
                clock=desk.clock,
            )
        try:
            report = retention_sweep(settings.retention, db=desk.db, sessions=sessions, now=desk.clock())
        finally:
            if sessions is not None:
                sessions.close()
    typer.echo(json.dumps(report.as_dict()))
