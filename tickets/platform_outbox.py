"""The outbox towards the external 12345 platform, and the platform's status reports.

Rows are written by a `before_flush` hook on the ticket sessions (`install`): whenever an
audited creation or status change is flushed, its outbox row is added to the same flush, so
it commits or rolls back with the ticket. A pusher then claims due rows (FOR UPDATE SKIP
LOCKED on PostgreSQL, a conditional UPDATE on SQLite), sends them outside any transaction,
and settles them: delivered, or retried with exponential back-off. A row's `key` is its
idempotency key; a repeat after a lost answer carries the same key, so the platform can
drop it. Rows of one ticket go out in order: a row waits while an older one of the same
ticket is undelivered.

The citizen's phone is never copied into the outbox: it is added to a creation push when
it is sent, and only when a consent row exists for the ticket.

Nothing here knows HTTP: the sender is a callable (connectors/hotline_platform.py has one).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, event, exists, func, select, update
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column, sessionmaker

from core.settings import HotlinePlatformSettings
from tickets.db import TicketDB
from tickets.errors import TicketNotFoundError
from tickets.lifecycle import TransitionRequest, transition
from tickets.models import AuditEntry, Base, Ticket, UTCDateTime

log = logging.getLogger(__name__)

CREATE = "create"
STATUS = "status"
# Audit actions that change a ticket's state (tickets/lifecycle.py TRANSITIONS).
STATUS_ACTIONS = frozenset(
    {"accept", "dispatch", "redispatch", "start", "return", "feedback", "complete", "callback", "merge"}
)


class PlatformOutbox(Base):
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claim: Mapped[str | None] = mapped_column(String(32))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(String(300))


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


# --- writing rows, in the ticket's own transaction --------------------------------------------
def attach(db: TicketDB, cfg: HotlinePlatformSettings) -> None:
    """The one hook TicketDesk calls: record outbox rows when the platform link is enabled."""
    if cfg.enabled:
        install(db.sessions, platform_actor=cfg.actor)


def install(sessions: sessionmaker[Session], *, platform_actor: str) -> None:
    """Make every session of `sessions` add an outbox row for each audited creation and state
    change it flushes. Changes made by the platform's own callbacks are not echoed back."""

    def before_flush(session: Session, _context: Any, _instances: Any) -> None:
        entries = [o for o in session.new if isinstance(o, AuditEntry)]
        with session.no_autoflush:
            for entry in entries:
                if entry.actor == platform_actor:
                    continue
                if entry.action != CREATE and entry.action not in STATUS_ACTIONS:
                    continue
                ticket = session.get(Ticket, entry.ticket_id)
                if ticket is not None:
                    session.add(outbox_row(ticket, entry))

    if not event.contains(sessions, "before_flush", before_flush):
        event.listen(sessions, "before_flush", before_flush)


def outbox_row(ticket: Ticket, entry: AuditEntry) -> PlatformOutbox:
    kind = CREATE if entry.action == CREATE else STATUS
    payload = ticket_payload(ticket) if kind == CREATE else status_payload(ticket, entry)
    return PlatformOutbox(
        key=uuid.uuid4().hex,
        ticket_id=ticket.id,
        ticket_no=ticket.ticket_no,
        kind=kind,
        payload=payload,
        created_at=entry.at,
        attempts=0,
        next_attempt_at=entry.at,
        failed=False,
    )


def ticket_payload(ticket: Ticket) -> dict[str, Any]:
    """What the platform gets for a new ticket (the phone is added at send time, with consent)."""
    return {
        "ticket_no": ticket.ticket_no,
        "type": ticket.type,
        "category": "/".join(c for c in (ticket.category1, ticket.category2, ticket.category3) if c) or None,
        "department": ticket.department,
        "title": ticket.title,
        "content": ticket.content,
        "location": ticket.location,
        "received_at": ticket.received_at.isoformat(),
        "feedback_deadline": ticket.feedback_deadline.isoformat(),
        "completion_deadline": ticket.completion_deadline.isoformat(),
        "urgency": ticket.urgency,
        "urgent_reason": ticket.urgent_reason,
    }


def status_payload(ticket: Ticket, entry: AuditEntry) -> dict[str, Any]:
    previous, current = (entry.changes.get("status") or [None, ticket.status])[:2]
    return {
        "ticket_no": ticket.ticket_no,
        "status": current,
        "previous_status": previous,
        "action": entry.action,
        "at": entry.at.isoformat(),
        "department": ticket.department,
        "note": entry.changes.get("note"),
        "satisfaction": entry.changes.get("satisfaction"),
    }


def record_consent(*, session: Session, ticket_no: str, actor: str, now: datetime) -> None:
    """Record that the citizen agreed to share their phone with the platform (idempotent)."""
    ticket = session.scalar(select(Ticket).where(Ticket.ticket_no == ticket_no))
    if ticket is None:
        raise TicketNotFoundError(ticket_no)
    if session.get(PlatformConsent, ticket.id) is None:
        session.add(PlatformConsent(ticket_id=ticket.id, actor=actor, at=now))
        session.add(
            AuditEntry(
                ticket_id=ticket.id, actor=actor, at=now, action="platform_consent", changes={"phone": True}
            )
        )


# --- pushing ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutboxMessage:
    """A claimed row, ready to send: `key` is the Idempotency-Key."""

    key: str
    kind: str
    ticket_no: str
    payload: dict[str, Any]
    attempts: int
    claim: str


class Delivery(Protocol):
    """What a sender reports: no error (delivered), or an error that is permanent or not."""

    @property
    def error(self) -> str | None: ...
    @property
    def permanent(self) -> bool: ...


Sender = Callable[[OutboxMessage], Delivery]


@dataclass
class PushReport:
    delivered: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"delivered": self.delivered, "retrying": self.retrying, "failed": self.failed}


@dataclass(frozen=True)
class Backoff:
    lease_seconds: float = 16.0  # a claimed row is invisible to other pushers this long
    retry_seconds: int = 30
    max_retry_seconds: int = 3600

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.retry_seconds * 2 ** max(attempts - 1, 0), self.max_retry_seconds))


def claim_due(*, session: Session, now: datetime, lease: timedelta, limit: int) -> list[OutboxMessage]:
    """Claim up to `limit` due rows whose ticket has no older undelivered row: attempts + 1 and
    the next attempt pushed past the lease, so a crashed pusher's rows come back by themselves."""
    earlier = aliased(PlatformOutbox)
    blocked = exists().where(
        earlier.ticket_no == PlatformOutbox.ticket_no,
        earlier.id < PlatformOutbox.id,
        earlier.delivered_at.is_(None),
        earlier.failed.is_(False),
    )
    due = (
        select(PlatformOutbox)
        .where(
            PlatformOutbox.delivered_at.is_(None),
            PlatformOutbox.failed.is_(False),
            PlatformOutbox.next_attempt_at <= now,
            ~blocked,
        )
        .order_by(PlatformOutbox.id)
        .limit(limit)
    )
    token = uuid.uuid4().hex
    claimed: list[PlatformOutbox] = []
    if session.get_bind().dialect.name == "postgresql":
        for row in session.scalars(due.with_for_update(skip_locked=True, of=PlatformOutbox)):
            row.attempts += 1
            row.next_attempt_at = now + lease
            row.claim = token
            claimed.append(row)
    else:
        for row in list(session.scalars(due)):
            won = session.execute(
                update(PlatformOutbox)
                .where(
                    PlatformOutbox.id == row.id,
                    PlatformOutbox.delivered_at.is_(None),
                    PlatformOutbox.attempts == row.attempts,
                )
                .values(attempts=row.attempts + 1, next_attempt_at=now + lease, claim=token)
                .execution_options(synchronize_session=False)
            )
            if won.rowcount == 1:  # type: ignore[attr-defined]
                session.refresh(row)
                claimed.append(row)
    return [_message(session, row) for row in claimed]


def _message(session: Session, row: PlatformOutbox) -> OutboxMessage:
    payload = dict(row.payload)
    if row.kind == CREATE and session.get(PlatformConsent, row.ticket_id) is not None:
        ticket = session.get(Ticket, row.ticket_id)
        payload["phone"] = ticket.phone if ticket else None
    assert row.claim is not None
    return OutboxMessage(row.key, row.kind, row.ticket_no, payload, row.attempts, row.claim)


def settle(
    *, session: Session, message: OutboxMessage, delivery: Delivery, now: datetime, backoff: Backoff
) -> str:
    """Record the outcome of one send: 'delivered', 'retrying', 'failed' or 'stale' (another
    pusher holds the row since our lease ran out; it will send it again under the same key)."""
    row = session.scalar(select(PlatformOutbox).where(PlatformOutbox.key == message.key))
    assert row is not None
    if row.delivered_at is not None:
        return "delivered"
    if delivery.error is None:
        row.delivered_at = now
        row.last_error = None
        return "delivered"
    if row.claim != message.claim:
        return "stale"
    row.last_error = delivery.error[:300]
    if delivery.permanent:
        row.failed = True
        return "failed"
    row.next_attempt_at = now + backoff.delay(row.attempts)
    return "retrying"


def _settle_job(
    session: Session, *, message: OutboxMessage, delivery: Delivery, now: datetime, backoff: Backoff
) -> str:
    return settle(session=session, message=message, delivery=delivery, now=now, backoff=backoff)


def push_pending(
    *,
    db: TicketDB,
    send: Sender,
    now: Callable[[], datetime],
    backoff: Backoff,
    batch_size: int = 50,
    max_rounds: int = 20,
) -> PushReport:
    """Claim, send and settle due rows, round after round until none is due (or max_rounds)."""
    report = PushReport()
    lease = timedelta(seconds=backoff.lease_seconds)

    def claim(s: Session) -> list[OutboxMessage]:
        return claim_due(session=s, now=now(), lease=lease, limit=batch_size)

    for _ in range(max_rounds):
        batch = db.run(claim)
        if not batch:
            break
        for message in batch:
            delivery = send(message)
            outcome = db.run(
                partial(_settle_job, message=message, delivery=delivery, now=now(), backoff=backoff)
            )
            if outcome == "delivered":
                report.delivered.append(message.key)
            elif outcome == "failed":
                report.failed.append(message.key)
                log.error("platform.push.failed", extra={"key": message.key, "error": delivery.error})
            elif outcome == "retrying":
                report.retrying.append(message.key)
                log.warning("platform.push.retry", extra={"key": message.key, "error": delivery.error})
        if report.retrying and not report.delivered:
            break  # the platform is not answering: leave the rest for the next round
    return report


def pending_count(*, session: Session) -> int:
    query = select(func.count(PlatformOutbox.id)).where(
        PlatformOutbox.delivered_at.is_(None), PlatformOutbox.failed.is_(False)
    )
    return session.scalar(query) or 0


# --- the platform's status reports ------------------------------------------------------------
@dataclass(frozen=True)
class PlatformActor:
    """The platform acts with the centre's full rights, under its own name in the audit trail."""

    name: str
    role: str = "supervisor"
    department: str | None = None


@dataclass(frozen=True)
class StatusReport:
    event_id: str
    ticket_no: str
    status: str  # one of our states (tickets/states.py)
    note: str | None = None
    department: str | None = None
    satisfaction: str | None = None


def apply_status_report(
    *, session: Session, report: StatusReport, actor: PlatformActor, now: datetime
) -> dict[str, Any]:
    """Apply a status report through the lifecycle (which writes the audit entry), once per
    event id. Raises TicketNotFoundError or IllegalTransitionError, leaving nothing behind."""
    ticket = session.scalar(select(Ticket).where(Ticket.ticket_no == report.ticket_no).with_for_update())
    seen = session.scalar(select(PlatformCallback).where(PlatformCallback.event_id == report.event_id))
    if seen is not None:
        return {
            "event_id": seen.event_id,
            "ticket_no": seen.ticket_no,
            "status": seen.status,
            "duplicate": True,
        }
    if ticket is None:
        raise TicketNotFoundError(report.ticket_no)
    request = TransitionRequest(
        to=report.status,
        department=report.department,
        note=report.note,
        satisfaction=report.satisfaction,
        callback_result=report.note,
        context={"platform_event": report.event_id},
    )
    transition(session=session, ticket=ticket, request=request, viewer=actor, now=now)
    session.add(
        PlatformCallback(
            event_id=report.event_id, ticket_no=ticket.ticket_no, status=ticket.status, received_at=now
        )
    )
    return {
        "event_id": report.event_id,
        "ticket_no": ticket.ticket_no,
        "status": ticket.status,
        "duplicate": False,
    }


def seen_event(*, session: Session, event_id: str) -> dict[str, Any] | None:
    seen = session.scalar(select(PlatformCallback).where(PlatformCallback.event_id == event_id))
    if seen is None:
        return None
    return {"event_id": seen.event_id, "ticket_no": seen.ticket_no, "status": seen.status, "duplicate": True}
