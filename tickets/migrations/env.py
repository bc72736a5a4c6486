"""Alembic environment: always run programmatically with a connection (see tickets/db.py)."""

from __future__ import annotations

from alembic import context

from tickets.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through tickets.db.TicketDB.migrate(), which passes a connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
