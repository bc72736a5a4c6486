"""Tables of the platform link: the push outbox (the outbox engine's columns, core/outbox.py),
the status reports applied (by event id) and the citizens' consents to share their phone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.outbox import OutboxColumns
from core.sqltypes import UTCDateTime
from tickets.models import Base


class PlatformOutbox(OutboxColumns, Base):
    __tablename__ = "platform_outbox"
    __table_args__ = (
        Index("ix_platform_outbox_pending", "delivered_at", "next_attempt_at"),
        Index("ix_platform_outbox_ticket_no", "ticket_no"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # the Idempotency-Key
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    ticket_no: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class PlatformCallback(Base):
    """Status reports applied, by the platform's event id: a repeat is answered, not applied."""

    __tablename__ = "platform_callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    ticket_no: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(8))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PlatformConsent(Base):
    """The citizen agreed that the platform may receive their phone number."""

    __tablename__ = "platform_consents"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
