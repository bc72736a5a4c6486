"""Alembic environment of the knowledge base: always run programmatically with a connection
(core.db.Database.migrate), version table `kb_alembic_version` next to the tickets' own."""

from __future__ import annotations

from alembic import context

from knowledge.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through knowledge.store.KnowledgeStore, which passes a connection")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    version_table=context.config.attributes.get("version_table", "kb_alembic_version"),
)
with context.begin_transaction():
    context.run_migrations()
