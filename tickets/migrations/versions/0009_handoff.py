"""handoff_conversations, handoff_messages, agent_presence (live chat with agents) and
ticket_transcripts (the chat a ticket came from)

Revision ID: 0009_handoff
Revises: 0008_desk_notes
Create Date: 2026-12-02 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_handoff"
down_revision = "0008_desk_notes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoff_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("ticket_no", sa.String(length=20), nullable=True),
        sa.Column("wait_notice_at", sa.DateTime(), nullable=True),
        sa.Column("citizen_cursor", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_handoff_conversations_session_id", "handoff_conversations", ["session_id"])
    op.create_index("ix_handoff_conversations_status", "handoff_conversations", ["status", "opened_at"])
    op.create_table(
        "handoff_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("sender", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["handoff_conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_handoff_messages_conversation_id", "handoff_messages", ["conversation_id"])
    op.create_table(
        "agent_presence",
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("agent"),
    )
    op.create_table(
        "ticket_transcripts",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("ticket_id"),
    )


def downgrade() -> None:
    op.drop_table("ticket_transcripts")
    op.drop_table("agent_presence")
    op.drop_index("ix_handoff_messages_conversation_id", table_name="handoff_messages")
    op.drop_table("handoff_messages")
    op.drop_index("ix_handoff_conversations_status", table_name="handoff_conversations")
    op.drop_index("ix_handoff_conversations_session_id", table_name="handoff_conversations")
    op.drop_table("handoff_conversations")
