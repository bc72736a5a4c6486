"""A durable outbox for messages a door pushes to its users (WeChat's customer-service API,
a Rasa callback URL): written to SQLite in the data directory before anything is sent, so an
outage of the receiver or a restart loses nothing.

Claiming, leases, back-off and giving up are the shared outbox engine's (core/outbox.py); this
module keeps the payload columns, the queueing of a message's parts and the async sending loop.
A user's messages go out in order (order column `touser`). A part that was delivered or given
up has its text blanked: replies may quote what the citizen wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, func, inspect, select, update
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column, sessionmaker

from core.channel_settings import OutboxSettings
from core.clock import Clock, system_clock
from core.db import make_engine
from core.outbox import DELIVERED, FAILED, Attempt, Claim, OutboxColumns
from core.outbox import Outbox as Engine

log = logging.getLogger(__name__)


class PushColumns(OutboxColumns):
    """A pushed message's payload next to the engine's columns: the account it goes out through
    (`app_id`; empty for a door with one), the user, the text, and the key and part number that
    make a second queueing of the same message a no-op (a unique constraint on the table). A
    door's table names itself (`__tablename__`) and gets these constraints by that name."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        name = cls.__tablename__  # type: ignore[attr-defined]
        return (
            UniqueConstraint("msg_key", "part"),
            Index(f"ix_{name}_due", "delivered_at", "next_attempt_at"),
        )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[str] = mapped_column(String(64))
    touser: Mapped[str] = mapped_column(String(128), index=True)
    content: Mapped[str] = mapped_column(Text)
    msg_key: Mapped[str] = mapped_column(String(200))
    part: Mapped[int] = mapped_column(Integer)


class DeliveryError(Exception):
    """A failed send; `permanent` when retrying cannot help (the receiver refused the request)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class OutboxRow:
    id: int
    app_id: str
    touser: str
    content: str
    attempts: int
    created_at: datetime

    @property
    def key(self) -> str:
        return str(self.id)


def _load(_session: Session, row: PushColumns) -> OutboxRow:
    return OutboxRow(row.id, row.app_id, row.touser, row.content, row.attempts, row.created_at)


Send = Callable[[OutboxRow], Awaitable[None]]


class PushOutbox:
    """The queue of one door's pushed messages in a SQLite file of the data directory, and the
    async loop that sends them (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        settings: OutboxSettings,
        table: type[PushColumns],
        *,
        name: str,
        clock: Clock = system_clock,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.table = table
        self.name = name
        self._engine = make_engine(f"sqlite:///{path}")
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        inspect(table).local_table.create(self._engine, checkfirst=True)  # with its indexes
        self.outbox = Engine(table, settings.retry, load=_load, name=name, order_column="touser")
        self._wake: asyncio.Event | None = None  # made by run(), in the loop that drains
        self._stopping = False

    def _run(self, job: Callable[[Session], Any]) -> Any:
        with self._sessions.begin() as session:
            return job(session)

    def add(self, *, app_id: str, touser: str, parts: list[str], msg_key: str) -> int:
        """Queue the parts of one answer; a second add for the same message is ignored."""
        now = self.clock()
        rows = [
            dict(
                app_id=app_id,
                touser=touser,
                content=content,
                msg_key=msg_key,
                part=number,
                created_at=now,
                next_attempt_at=now,
                attempts=0,
                failed=False,
            )
            for number, content in enumerate(parts)
        ]

        def job(session: Session) -> int:
            added = 0
            for row in rows:
                result = session.execute(insert(self.table).values(**row).on_conflict_do_nothing())
                added += result.rowcount  # type: ignore[attr-defined]
            return added

        return int(self._run(job))

    async def put(self, *, app_id: str, touser: str, parts: list[str], msg_key: str) -> int:
        """`add` off the event loop (SQLite may wait for another worker's write), then wake the sender."""
        added = await anyio.to_thread.run_sync(
            lambda: self.add(app_id=app_id, touser=touser, parts=parts, msg_key=msg_key)
        )
        if self._wake is not None:
            self._wake.set()
        return added

    def counts(self) -> dict[str, int]:
        """Rows by status: pending, sending (claimed), done, failed (tests, inspection)."""
        t = self.table
        status = select(t.delivered_at.is_not(None), t.failed, t.claim.is_not(None), func.count()).group_by(
            t.delivered_at.is_not(None), t.failed, t.claim.is_not(None)
        )
        found: dict[str, int] = {}
        for done, failed, claimed, count in self._run(lambda s: s.execute(status).all()):
            name = "done" if done else "failed" if failed else "sending" if claimed else "pending"
            found[name] = found.get(name, 0) + count
        return found

    def _claim(self) -> list[Claim[OutboxRow]]:
        return self._run(lambda s: self.outbox.claim(s, now=self.clock(), limit=50))  # type: ignore[no-any-return]

    def _settle(self, claim: Claim[OutboxRow], result: Attempt) -> str:
        """Record the outcome; a part that was delivered or given up no longer needs its text,
        so the reply (which may quote what the citizen wrote) is not kept at rest."""

        def job(s: Session) -> str:
            outcome = self.outbox.settle(s, claim, result, now=self.clock())
            if outcome in (DELIVERED, FAILED):
                s.execute(update(self.table).where(self.table.id == claim.id).values(content=""))
            return outcome

        return str(self._run(job))

    def _release(self, claims: list[Claim[OutboxRow]]) -> None:
        self._run(lambda s: [self.outbox.release(s, c, now=self.clock()) for c in claims])

    async def drain_once(self, send: Send) -> int:
        """Send every due row (round after round, so a user's next part follows a delivered one);
        returns how many were delivered. A round that delivers nothing ends the drain.

        Rows claimed but not settled (stop requested, cancelled, unexpected error) are given
        back at once rather than waiting for their lease to run out.
        """
        delivered = 0
        run = anyio.to_thread.run_sync  # SQLite calls stay off the event loop
        while not self._stopping:
            batch = await run(self._claim)
            if not batch:
                break
            sent = 0
            try:
                while batch and not self._stopping:
                    claim = batch[0]
                    try:
                        await send(claim.message)
                        result = Attempt()
                    except DeliveryError as exc:
                        result = Attempt(str(exc), exc.permanent)
                    outcome = await run(self._settle, claim, result)
                    batch.pop(0)
                    if outcome == DELIVERED:
                        sent += 1
            finally:
                if batch:
                    self._release(batch)
            delivered += sent
            if not sent:
                break
        return delivered

    async def run(self, send: Send) -> None:
        """The background sender: drain, then wait for the next poll, a new row or `request_stop`."""
        self._stopping = False
        self._wake = wake = asyncio.Event()
        while not self._stopping:
            try:
                await self.drain_once(send)
            except Exception:  # a broken round must not end the sender
                log.exception(f"{self.name}.error")
            if self._stopping:
                break
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=self.settings.poll_seconds)

    def request_stop(self) -> None:
        """Ask `run` to finish the row in hand and return (call from the loop that runs it)."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()

    def close(self) -> None:
        self._engine.dispose()
