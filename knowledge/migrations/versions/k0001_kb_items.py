"""knowledge base in the shared database: items with versions, tombstones and vectors

Revision ID: k0001
Revises:
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "k0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_items",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("parent", sa.String(length=500), nullable=True),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("vector_encoder", sa.String(length=200), nullable=True),
        sa.Column("vector_key", sa.String(length=32), nullable=True),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_kb_items_kind", "kb_items", ["kind"])
    op.create_index("ix_kb_items_title", "kb_items", ["title"])
    op.create_index("ix_kb_items_version", "kb_items", ["version"])
    op.create_table(
        "kb_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("kb_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(f"INSERT INTO kb_state (id, version, kb_id) VALUES (1, 0, '{uuid.uuid4().hex}')")


def downgrade() -> None:
    op.drop_table("kb_state")
    op.drop_index("ix_kb_items_version", table_name="kb_items")
    op.drop_index("ix_kb_items_title", table_name="kb_items")
    op.drop_index("ix_kb_items_kind", table_name="kb_items")
    op.drop_table("kb_items")
