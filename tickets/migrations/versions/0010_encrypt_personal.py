"""tickets: the citizen's phone, name and words sealed at rest; search through a keyed hash

Seals `citizen_name`, `phone`, `title`, `content` and `location` of every existing ticket with
the data key (core/crypto.py: GOVBOT_DATA_KEY, or the data dir's key file in development), so
the key must be loadable when this runs; `govbot` and the server load it before migrating. The
clear-phone index `ix_tickets_phone_tail` (0006) gives way to an index of the same name on the
keyed hash of the last four digits, and `ticket_words` keeps the masked words for the desk's
word search. Update entries of the audit trail and platform push payloads kept the citizen's
words in clear: they are masked (core/privacy.py), as the code now writes them. Live-chat lines
(0009) and internal notes (0008) are sealed too; transcripts attached to tickets are masked, as
every staff view showed them.

Revision ID: 0010_encrypt_personal
Revises: 0009_handoff
Create Date: 2026-12-02 03:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from core import crypto
from core.privacy import mask_personal

revision = "0010_encrypt_personal"
down_revision = "0009_handoff"
branch_labels = None
depends_on = None

SEALED = ("citizen_name", "phone", "title", "content", "location")
TEXTS = ("title", "content", "location")
BATCH = 500

tickets = sa.table(
    "tickets",
    sa.column("id", sa.Integer),
    *(sa.column(name, sa.Text) for name in SEALED),
    sa.column("phone_tail", sa.String),
)
words = sa.table("ticket_words", sa.column("ticket_id", sa.Integer), sa.column("text", sa.Text))
audit = sa.table(
    "ticket_audit", sa.column("id", sa.Integer), sa.column("action", sa.String), sa.column("changes", sa.JSON)
)
outbox = sa.table("platform_outbox", sa.column("id", sa.Integer), sa.column("payload", sa.JSON))
# free text a citizen or an agent typed, sealed like the ticket's own words
LINES = [
    sa.table(name, sa.column("id", sa.Integer), sa.column("text", sa.Text))
    for name in ("handoff_messages", "ticket_notes")
]
transcripts = sa.table("ticket_transcripts", sa.column("ticket_id", sa.Integer), sa.column("lines", sa.JSON))


def _rows(bind: Any, table: Any, *columns: Any) -> list[Any]:
    return list(bind.execute(sa.select(table.c.id, *columns).order_by(table.c.id)))


def _masked_changes(changes: Any) -> Any:
    if not isinstance(changes, dict):
        return changes
    return {
        key: [mask_personal(v) if isinstance(v, str) else v for v in value]
        if key in TEXTS and isinstance(value, list)
        else value
        for key, value in changes.items()
    }


def upgrade() -> None:
    ring = crypto.active()  # DataKeyError, saying what to do, when no key was loaded
    op.drop_index("ix_tickets_phone_tail", table_name="tickets")
    if op.get_bind().dialect.name != "sqlite":  # SQLite keeps any length in a VARCHAR(n): no copy
        for name, nullable in (
            ("citizen_name", True),
            ("phone", False),
            ("title", False),
            ("location", True),
        ):
            op.alter_column("tickets", name, type_=sa.Text(), existing_nullable=nullable)
    # NOT NULL with a default: the one form SQLite adds in place
    op.add_column("tickets", sa.Column("phone_tail", sa.String(length=32), nullable=False, server_default=""))
    op.create_table(
        "ticket_words",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    bind = op.get_bind()
    for row in _rows(bind, tickets, *(tickets.c[name] for name in SEALED)):
        clear = {
            name: ring.open(row[i + 1]) if row[i + 1] is not None else None for i, name in enumerate(SEALED)
        }
        bind.execute(
            tickets.update()
            .where(tickets.c.id == row[0])
            .values(
                **{name: ring.seal(value) if value is not None else None for name, value in clear.items()},
                phone_tail=ring.tail_hash(clear["phone"] or ""),
            )
        )
        text = mask_personal("\n".join(clear[name] or "" for name in TEXTS))
        bind.execute(words.insert().values(ticket_id=row[0], text=text))
    for entry_id, changes in _rows(bind, audit, audit.c.changes):
        masked = _masked_changes(changes)
        if masked != changes:
            bind.execute(audit.update().where(audit.c.id == entry_id).values(changes=masked))
    for row_id, payload in _rows(bind, outbox, outbox.c.payload):
        if isinstance(payload, dict):
            masked = {
                k: mask_personal(v) if k in TEXTS and isinstance(v, str) else v for k, v in payload.items()
            }
            if masked != payload:
                bind.execute(outbox.update().where(outbox.c.id == row_id).values(payload=masked))
    for table in LINES:
        for row_id, text in _rows(bind, table, table.c.text):
            if text:
                sealed = ring.seal(ring.open(text))
                bind.execute(table.update().where(table.c.id == row_id).values(text=sealed))
    for ticket_id, lines in bind.execute(sa.select(transcripts.c.ticket_id, transcripts.c.lines)).all():
        masked = [{**line, "text": mask_personal(str(line.get("text", "")))} for line in lines or []]
        bind.execute(transcripts.update().where(transcripts.c.ticket_id == ticket_id).values(lines=masked))
    op.create_index("ix_tickets_phone_tail", "tickets", ["phone_tail"])


def downgrade() -> None:
    """Back to clear columns (the masked audit and push text stays masked: it cannot be undone)."""
    ring = crypto.active()
    bind = op.get_bind()
    for row in _rows(bind, tickets, *(tickets.c[name] for name in SEALED)):
        bind.execute(
            tickets.update()
            .where(tickets.c.id == row[0])
            .values(
                **{name: ring.open(row[i + 1]) if row[i + 1] else row[i + 1] for i, name in enumerate(SEALED)}
            )
        )
    for table in LINES:
        for row_id, text in _rows(bind, table, table.c.text):
            if text:
                bind.execute(table.update().where(table.c.id == row_id).values(text=ring.open(text)))
    op.drop_index("ix_tickets_phone_tail", table_name="tickets")
    op.drop_table("ticket_words")
    op.execute("ALTER TABLE tickets DROP COLUMN phone_tail")  # in place on SQLite 3.35+ too
    if bind.dialect.name != "sqlite":
        for name, length, nullable in (
            ("citizen_name", 64, True),
            ("phone", 20, False),
            ("title", 200, False),
            ("location", 200, True),
        ):
            op.alter_column("tickets", name, type_=sa.String(length=length), existing_nullable=nullable)
    op.create_index("ix_tickets_phone_tail", "tickets", [sa.text("substr(phone, length(phone) - 3)")])
