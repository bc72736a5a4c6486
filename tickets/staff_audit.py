"""The staff actions log: every change made from the administration pages (accounts, the
knowledge base, unanswered questions turned into FAQs), with who, when and what.

Tickets keep their own trail (ticket_audit); this one is for what has no ticket. Append only:
nothing here updates or deletes a row. Passwords never appear in `details`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.sqltypes import UTCDateTime
from tickets.models import Base


class StaffAction(Base):
    __tablename__ = "staff_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


def record_action(
    *, session: Session, actor: str, action: str, target: str, details: dict[str, Any], now: datetime
) -> StaffAction:
    row = StaffAction(at=now, actor=actor, action=action, target=target[:200], details=details)
    session.add(row)
    return row


def recent_actions(*, session: Session, limit: int = 100, target: str | None = None) -> list[StaffAction]:
    """Newest first; only those about `target` when given."""
    query = select(StaffAction)
    if target is not None:
        query = query.where(StaffAction.target == target)
    return list(session.scalars(query.order_by(StaffAction.id.desc()).limit(limit)))
