"""One outbox engine for every durable send (ticket webhooks, the 12345 platform push, WeChat
customer-service messages): each outbox keeps only its table, its payload and its send function.

A row is written in the same transaction as the change it reports, then a worker:
1. claims due rows: attempts + 1, `next_attempt_at` pushed a lease ahead and a fresh claim token
   written (FOR UPDATE SKIP LOCKED on PostgreSQL; a conditional UPDATE on SQLite, whose writers
   queue on BEGIN IMMEDIATE). A row whose lease ran out is due again, so a crashed worker's rows
   come back by themselves;
2. sends them outside any transaction;
3. settles each one with a conditional UPDATE on its claim token: delivered, retried after an
   exponential back-off with a cap, or given up (a permanent error, too many attempts, too old).
   A worker whose lease was taken over by another one changes nothing ("stale"): the row belongs
   to the newer claim, and a receiver deduplicates the repeat by the row's stable key.

Rows that share an `order_column` value (a ticket, a WeChat user) go out oldest first: a row is
not claimed while an older one with the same value is neither delivered nor failed.

The table is any mapped class with these columns (the contract, checked at construction):
id, created_at, attempts, next_attempt_at, claim, delivered_at, failed, last_error; times are
aware UTC datetimes. Time comes only from the injected clock (core/clock.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, aliased

from core.clock import Clock
from core.retry import RetryPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")
COLUMNS = ("id", "created_at", "attempts", "next_attempt_at", "claim", "delivered_at", "failed", "last_error")
DELIVERED, RETRYING, FAILED, STALE = "delivered", "retrying", "failed", "stale"
ERROR_CHARS = 300


class Keyed(Protocol):
    """What an outbox hands its send function: anything with a stable key (logs, reports)."""

    @property
    def key(self) -> str: ...


K = TypeVar("K", bound=Keyed)


class Result(Protocol):
    """What a send function reports: no error (delivered), or an error, permanent or not."""

    @property
    def error(self) -> str | None: ...
    @property
    def permanent(self) -> bool: ...


@dataclass(frozen=True)
class Attempt:
    """A plain `Result`, for send functions without a richer one."""

    error: str | None = None
    permanent: bool = False


@dataclass(frozen=True)
class Claim(Generic[T]):
    """A row this worker holds until its lease runs out; `token` proves it at settle time."""

    id: int
    token: str
    attempts: int
    created_at: datetime
    message: T


@dataclass
class Report:
    """Keys of the rows settled by one drain, by outcome."""

    delivered: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    def add(self, outcome: str, key: str) -> None:
        {DELIVERED: self.delivered, RETRYING: self.retrying, FAILED: self.failed, STALE: self.stale}[
            outcome
        ].append(key)

    def as_dict(self) -> dict[str, list[str]]:
        return {"delivered": self.delivered, "retrying": self.retrying, "failed": self.failed}


class Outbox(Generic[K]):
    """Claim, settle and release rows of one outbox table (see the module docstring)."""

    def __init__(
        self,
        model: type[Any],
        policy: RetryPolicy,
        *,
        load: Callable[[Session, Any], K],
        name: str,
        order_column: str | None = None,
    ) -> None:
        missing = [c for c in (*COLUMNS, *([order_column] if order_column else [])) if not hasattr(model, c)]
        if missing:
            raise TypeError(f"{model.__name__} lacks the outbox columns {missing}")
        self.model = model
        self.policy = policy
        self.load = load
        self.name = name  # log events are '<name>.delivered', '<name>.retry', '<name>.failed'
        self.order_column = order_column

    def _due(self, now: datetime) -> Any:
        m = self.model
        return (m.delivered_at.is_(None), m.failed.is_(False), m.next_attempt_at <= now)

    def claim(self, session: Session, *, now: datetime, limit: int) -> list[Claim[K]]:
        """Claim up to `limit` due rows, oldest first, under one fresh token."""
        m = self.model
        query = select(m).where(*self._due(now))
        if self.order_column:
            earlier = aliased(m)
            query = query.where(
                ~exists().where(
                    getattr(earlier, self.order_column) == getattr(m, self.order_column),
                    earlier.id < m.id,
                    earlier.delivered_at.is_(None),
                    earlier.failed.is_(False),
                )
            )
        query = query.order_by(m.id).limit(limit)
        token = uuid.uuid4().hex
        until = now + self.policy.lease
        claimed: list[Any] = []
        if session.get_bind().dialect.name == "postgresql":
            for row in session.scalars(query.with_for_update(skip_locked=True, of=m)):
                row.attempts += 1
                row.next_attempt_at = until
                row.claim = token
                claimed.append(row)
            session.flush()
        else:
            for row in list(session.scalars(query)):
                won = session.execute(
                    update(m)
                    .where(m.id == row.id, m.attempts == row.attempts, *self._due(now))
                    .values(attempts=m.attempts + 1, next_attempt_at=until, claim=token)
                    .execution_options(synchronize_session=False)
                )
                if won.rowcount == 1:  # type: ignore[attr-defined]
                    session.refresh(row)
                    claimed.append(row)
        return [
            Claim(row.id, token, row.attempts, row.created_at, self.load(session, row)) for row in claimed
        ]

    def settle(self, session: Session, claim: Claim[K], result: Result, *, now: datetime) -> str:
        """Record one send's outcome: 'delivered', 'retrying', 'failed', or 'stale' when the
        claim is no longer ours (the lease ran out and another worker took the row)."""
        m = self.model
        if result.error is None:
            values: dict[str, Any] = {"delivered_at": now, "last_error": None, "claim": None}
            outcome = DELIVERED
        else:
            error = result.error[:ERROR_CHARS]
            age = now - claim.created_at
            if result.permanent or self.policy.gives_up(attempts=claim.attempts, age=age):
                values, outcome = {"failed": True, "last_error": error, "claim": None}, FAILED
            else:
                again = now + self.policy.delay(claim.attempts)
                values = {"next_attempt_at": again, "last_error": error, "claim": None}
                outcome = RETRYING
        done = session.execute(
            update(m)
            .where(m.id == claim.id, m.claim == claim.token, m.delivered_at.is_(None), m.failed.is_(False))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            outcome = STALE
        key = claim.message.key
        if outcome == FAILED:
            log.error(f"{self.name}.failed", extra={"key": key, "error": result.error})
        elif outcome == RETRYING:
            log.warning(f"{self.name}.retry", extra={"key": key, "error": result.error})
        elif outcome == STALE:
            log.warning(f"{self.name}.stale", extra={"key": key})
        else:
            log.info(f"{self.name}.delivered", extra={"key": key})
        return outcome

    def release(self, session: Session, claim: Claim[K], *, now: datetime) -> bool:
        """Give a claimed row back unsent (a stopping worker): due now, the attempt not counted."""
        m = self.model
        given = session.execute(
            update(m)
            .where(m.id == claim.id, m.claim == claim.token, m.delivered_at.is_(None), m.failed.is_(False))
            .values(next_attempt_at=now, claim=None, attempts=m.attempts - 1)
            .execution_options(synchronize_session=False)
        )
        return bool(given.rowcount == 1)  # type: ignore[attr-defined]

    def pending(self, session: Session) -> int:
        """Rows neither delivered nor failed."""
        m = self.model
        query = select(func.count(m.id)).where(m.delivered_at.is_(None), m.failed.is_(False))
        return int(session.scalar(query) or 0)


def drain(
    outbox: Outbox[K],
    *,
    run: Callable[[Callable[[Session], Any]], Any],
    send: Callable[[K], Result],
    clock: Clock,
    batch_size: int = 50,
    max_rounds: int = 20,
) -> Report:
    """Claim, send and settle due rows, round after round until none is due (or max_rounds).
    `run(job)` runs `job(session)` in one transaction. A round that delivered nothing and met
    errors ends the drain: the receiver is not answering, the rest waits for the next one."""
    report = Report()
    for _ in range(max_rounds):
        batch: list[Claim[K]] = run(lambda s: outbox.claim(s, now=clock(), limit=batch_size))
        if not batch:
            break
        delivered = len(report.delivered)
        for claim in batch:
            result = send(claim.message)

            def settle(s: Session, c: Claim[K] = claim, r: Result = result) -> str:
                return outbox.settle(s, c, r, now=clock())

            report.add(run(settle), claim.message.key)
        if len(report.delivered) == delivered and (report.retrying or report.failed):
            break
    return report
