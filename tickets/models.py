"""SQLAlchemy models of the ticket store: tickets, their audit trail, the number counter,
notifications (the webhook outbox), escalations, users and login tokens.

Times are stored as UTC and come back timezone-aware (UTC), on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    insert,
    inspect,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core import crypto
from core.clock import system_clock
from core.crypto import Sealed
from core.outbox import OutboxColumns
from core.privacy import mask_personal
from core.sqltypes import UTCDateTime


class Base(DeclarativeBase):
    pass


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(20), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64))
    # what the citizen gave, sealed at rest (core/crypto.py) and clear in memory
    citizen_name: Mapped[str | None] = mapped_column(Sealed(64))
    phone: Mapped[str] = mapped_column(Sealed(20))
    title: Mapped[str] = mapped_column(Sealed(200))
    content: Mapped[str] = mapped_column(Sealed())
    location: Mapped[str | None] = mapped_column(Sealed(200))
    # what is searched instead: the keyed hash of the phone's last four digits (kept by
    # `_hash_tail`), and the masked words in `ticket_words`
    phone_tail: Mapped[str] = mapped_column(String(32), index=True, server_default="")
    type: Mapped[str] = mapped_column(String(8))
    category1: Mapped[str | None] = mapped_column(String(32))
    category2: Mapped[str | None] = mapped_column(String(32))
    category3: Mapped[str | None] = mapped_column(String(32))
    department: Mapped[str | None] = mapped_column(String(64), index=True)
    assignee: Mapped[str | None] = mapped_column(String(64))
    urgency: Mapped[str] = mapped_column(String(8), default="normal")
    urgent_reason: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    feedback_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    completion_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    # a deadline lies after the known official calendar and was counted on weekdays only
    deadline_estimated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(8), index=True)
    satisfaction: Mapped[str | None] = mapped_column(String(8))
    callback_result: Mapped[str | None] = mapped_column(Text)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    supervision_count: Mapped[int] = mapped_column(Integer, default=0)
    at_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=system_clock)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=system_clock, onupdate=system_clock)


class TicketWords(Base):
    """The desk's word search reads this: title, content and place with personal numbers masked
    (core/privacy.py), so it may stay clear. A narrow table of its own, so a search that scans
    every ticket reads the masked words and not the sealed columns around them."""

    __tablename__ = "ticket_words"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    text: Mapped[str] = mapped_column(Text)


def searchable_text(title: str | None, content: str | None, location: str | None) -> str:
    """What the desk's word search reads: no phone or ID number in it."""
    return mask_personal("\n".join(part or "" for part in (title, content, location)))


WORD_COLUMNS = ("title", "content", "location")  # the citizen's words: sealed, searched masked
SEALED_COLUMNS = ("citizen_name", "phone", *WORD_COLUMNS)


@event.listens_for(Ticket, "before_insert")
@event.listens_for(Ticket, "before_update")
def _hash_tail(_mapper: Any, _connection: Any, ticket: Ticket) -> None:
    """The tail hash follows the phone on every write (a write after a key rotation also
    rehashes it under the current key)."""
    ticket.phone_tail = crypto.active().tail_hash(ticket.phone)


@event.listens_for(Ticket, "after_insert")
def _words_inserted(_mapper: Any, connection: Connection, ticket: Ticket) -> None:
    text = searchable_text(ticket.title, ticket.content, ticket.location)
    connection.execute(insert(TicketWords).values(ticket_id=ticket.id, text=text))


@event.listens_for(Ticket, "after_update")
def _words_updated(_mapper: Any, connection: Connection, ticket: Ticket) -> None:
    state = inspect(ticket)
    if any(state.attrs[name].history.has_changes() for name in WORD_COLUMNS):
        text = searchable_text(ticket.title, ticket.content, ticket.location)
        connection.execute(update(TicketWords).where(TicketWords.ticket_id == ticket.id).values(text=text))


class AuditEntry(Base):
    """Append-only: the data layer only ever inserts these."""

    __tablename__ = "ticket_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(String(32))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)


class TicketCounter(Base):
    """One row per local day; its `last` is incremented atomically for each new ticket number."""

    __tablename__ = "ticket_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Escalation(Base):
    """督办 records: unique per ticket, state and kind, so a sweep escalates each once per state."""

    __tablename__ = "ticket_escalations"
    __table_args__ = (UniqueConstraint("ticket_id", "status", "kind", name="uq_escalation_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    status: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Notification(OutboxColumns, Base):
    """The webhook outbox: written with the escalation, delivered (and retried) afterwards by
    the outbox engine (core/outbox.py), whose columns it has."""

    __tablename__ = "ticket_notifications"
    __table_args__ = (Index("ix_notifications_pending", "delivered_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=system_clock)


class LoginToken(Base):
    """Issued by login; only the SHA-256 of the token is stored."""

    __tablename__ = "login_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GuardStrike(Base):
    """A failure counter (wrong status answers, failed log-ins) when there is no Redis:
    `count` failures since the window began; the key is locked while `locked_until` is ahead."""

    __tablename__ = "guard_strikes"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_ends: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IntakeKey(Base):
    """The ticket a submission created, by its idempotency key (the chat form's id): a retry
    after a crash gets the same ticket instead of a second one."""

    __tablename__ = "intake_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
