"""`govbot keys new` and `govbot keys rotate`: the data key that seals citizens' personal data.

Rotation: put the new key in GOVBOT_DATA_KEY and the old one in GOVBOT_DATA_KEYS_OLD, restart,
run `govbot keys rotate`; once it reports nothing left, the old key can be dropped.
"""

from __future__ import annotations

import typer

from cli.tickets import open_desk
from core.crypto import new_key
from tickets.sealing import rotate as rotate_tickets

keys_app = typer.Typer(
    help="The data key sealing citizens' phone, name and words at rest.", no_args_is_help=True
)


@keys_app.command("new")
def new() -> None:
    """Print a new random data key (for GOVBOT_DATA_KEY); nothing is stored."""
    typer.echo(new_key())


@keys_app.command("rotate")
def rotate() -> None:
    """Seal again, with the current GOVBOT_DATA_KEY, every ticket sealed under an older key."""
    with open_desk() as desk:
        count = rotate_tickets(desk.db, desk.keyring)
        typer.echo(f"resealed {count} tickets with data key {desk.keyring.current_id}")
