"""guard_strikes (status and login lockouts without Redis) and intake_keys (idempotent submits)

Revision ID: 0007_guard
Revises: 0006_desk_search
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_guard"
down_revision = "0006_desk_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guard_strikes",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_ends", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "intake_keys",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("intake_keys")
    op.drop_table("guard_strikes")
