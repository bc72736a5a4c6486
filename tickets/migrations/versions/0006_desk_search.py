"""tickets: an index on the phone's last four digits, for the desk's search by phone suffix

A suffix cannot use an ordinary index; `substr(phone, length(phone) - 3)` is an expression both
SQLite and PostgreSQL index, and the search filters on that same expression first.

Revision ID: 0006_desk_search
Revises: 0005
Create Date: 2026-12-02 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_desk_search"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_phone_tail", "tickets", [sa.text("substr(phone, length(phone) - 3)")])


def downgrade() -> None:
    op.drop_index("ix_tickets_phone_tail", table_name="tickets")
