"""The knowledge base's tables (SQLAlchemy Core), in the same database as the tickets.

`kb_items` keeps every record once, with its content hash, the version that last changed it,
whether it is published (an unpublished row stays as a tombstone so every worker's index drops
it), its vector and its index record, so a machine with an empty data directory loads them
instead of re-embedding and re-tokenising. `kb_state` holds the one knowledge-base version that
every change bumps.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

items = Table(
    "kb_items",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("kind", String(16), nullable=False, index=True),
    Column("title", String(500), nullable=False, index=True),
    Column("parent", String(500)),
    Column("content_hash", String(32), nullable=False),
    Column("source", String(500), nullable=False, default=""),
    Column("data", Text, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False, index=True),
    Column("published", Boolean, nullable=False, default=True),
    Column("vector_encoder", String(200)),
    Column("vector_key", String(32)),
    Column("vector", LargeBinary),
    # the index's record of the item (lexical terms, names), valid under `record_key`
    # (index.lexical.lexicon_key): a joining machine reuses it instead of re-tokenising
    Column("record_key", String(64)),
    Column("record", Text),
)

state = Table(
    "kb_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("kb_id", String(32), nullable=False),  # which database: an index of another is not caught up
)
