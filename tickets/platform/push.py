"""The push outbox towards the 12345 platform, on the shared engine (core/outbox.py): rows of
one ticket go out in order (order column `ticket_no`), a row's `key` is its Idempotency-Key,
and the phone and the citizen's clear words are added to a creation push at send time, only
when a consent row exists (the citizen agreed to share them).
Nothing here knows HTTP: the send function comes from jobs/platform.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.clock import Clock
from core.outbox import Claim, Outbox, Report, Result, drain
from core.retry import RetryPolicy
from tickets.db import TicketDB
from tickets.models import Ticket
from tickets.platform.models import PlatformConsent, PlatformOutbox
from tickets.platform.recorder import CREATE, citizen_words

PushReport = Report


@dataclass(frozen=True)
class OutboxMessage:
    """A claimed row, ready to send: `key` is the Idempotency-Key."""

    key: str
    kind: str
    ticket_no: str
    payload: dict[str, Any]
    attempts: int


def _load(session: Session, row: PlatformOutbox) -> OutboxMessage:
    """The row's payload; a creation push with the citizen's consent also gets the phone and
    the clear words, opened from the ticket now (the row itself keeps neither)."""
    payload = dict(row.payload)
    if row.kind == CREATE and session.get(PlatformConsent, row.ticket_id) is not None:
        ticket = session.get(Ticket, row.ticket_id)
        if ticket is not None:
            payload |= citizen_words(ticket, consent=True)
        payload["phone"] = ticket.phone if ticket else None
    return OutboxMessage(row.key, row.kind, row.ticket_no, payload, row.attempts)


def platform_outbox(retry: RetryPolicy) -> Outbox[OutboxMessage]:
    return Outbox(PlatformOutbox, retry, load=_load, name="platform.push", order_column="ticket_no")


def claim_due(
    *, session: Session, now: datetime, retry: RetryPolicy, limit: int
) -> list[Claim[OutboxMessage]]:
    """Claim up to `limit` due rows whose ticket has no older unsettled row."""
    return platform_outbox(retry).claim(session, now=now, limit=limit)


def push_pending(
    *,
    db: TicketDB,
    send: Callable[[OutboxMessage], Result],
    clock: Clock,
    retry: RetryPolicy,
    batch_size: int = 50,
) -> PushReport:
    """Claim, send and settle due rows until none is due or the platform stops answering."""
    return drain(platform_outbox(retry), run=db.run, send=send, clock=clock, batch_size=batch_size)


def pending_count(*, session: Session) -> int:
    return platform_outbox(RetryPolicy()).pending(session)
