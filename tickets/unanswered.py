"""Questions the assistant could not answer (fallback), kept for the knowledge-base gap report.

Privacy: only the masked text (core.privacy.mask_personal), cut to 200 characters, the channel,
the reason and the time are stored; no session id, no sender. The table lives in the ticket
database (migration 0003_unanswered) so the daily report reads tickets and gaps from one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.privacy import mask_personal
from core.sqltypes import UTCDateTime
from tickets.db import TicketDB
from tickets.errors import TicketNotFoundError
from tickets.models import Base

log = logging.getLogger(__name__)
MAX_CHARS = 200
SKIPPED_REASONS = frozenset({"empty"})  # an empty message is no question
SKIPPED_CHANNELS = frozenset({"warmup"})


class UnansweredQuestion(Base):
    __tablename__ = "unanswered_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    channel: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(MAX_CHARS))
    # set when a supervisor answers it from the desk (the FAQ written for it)
    resolved_item: Mapped[str | None] = mapped_column(String(120), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def record_unanswered(
    *, session: Session, text: str, reason: str, channel: str, now: datetime
) -> UnansweredQuestion | None:
    """Store one masked question; None when there is nothing worth keeping."""
    masked = mask_personal(text.strip())[:MAX_CHARS]
    if not masked or reason in SKIPPED_REASONS or channel in SKIPPED_CHANNELS:
        return None
    row = UnansweredQuestion(at=now, channel=channel[:16], reason=reason[:32], text=masked)
    session.add(row)
    return row


def unanswered_between(*, session: Session, start: datetime, end: datetime) -> list[UnansweredQuestion]:
    query = select(UnansweredQuestion).where(UnansweredQuestion.at >= start, UnansweredQuestion.at < end)
    return list(session.scalars(query.order_by(UnansweredQuestion.id)))


def open_unanswered(*, session: Session, limit: int = 100, offset: int = 0) -> list[UnansweredQuestion]:
    """The questions nobody has written an answer for yet, newest first."""
    query = select(UnansweredQuestion).where(UnansweredQuestion.resolved_item.is_(None))
    return list(session.scalars(query.order_by(UnansweredQuestion.id.desc()).limit(limit).offset(offset)))


def get_unanswered(*, session: Session, question_id: int) -> UnansweredQuestion:
    row = session.get(UnansweredQuestion, question_id)
    if row is None:
        raise TicketNotFoundError(f"no unanswered question {question_id}")
    return row


def resolve_unanswered(*, session: Session, question_id: int, item_id: str, by: str, now: datetime) -> None:
    """Mark the question answered by the knowledge item `item_id`."""
    row = get_unanswered(session=session, question_id=question_id)
    row.resolved_item, row.resolved_by, row.resolved_at = item_id, by, now


@dataclass
class UnansweredRecorder:
    """The assistant's fallback hook: writes one row, and never lets a failure reach the citizen."""

    db: TicketDB
    clock: Callable[[], datetime]

    def __call__(self, *, text: str, reason: str, channel: str) -> None:
        try:
            self.db.run(
                lambda s: record_unanswered(
                    session=s, text=text, reason=reason, channel=channel, now=self.clock()
                )
            )
        except Exception:  # the reply matters more than the statistic
            log.exception("tickets.unanswered.record_failed")


def delete_unanswered_before(*, session: Session, before: datetime) -> int:
    """Retention: remove the questions recorded before `before`; returns how many."""
    result = session.execute(delete(UnansweredQuestion).where(UnansweredQuestion.at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
