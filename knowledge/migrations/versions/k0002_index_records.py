"""index records stored with the items: a joining machine reuses their lexical terms

Revision ID: k0002
Revises: k0001
Create Date: 2026-12-02 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "k0002"
down_revision = "k0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kb_items") as batch:
        batch.add_column(sa.Column("record_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("record", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kb_items") as batch:
        batch.drop_column("record")
        batch.drop_column("record_key")
