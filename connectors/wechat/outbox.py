"""A durable outbox for answers sent through WeChat's customer-service API.

An answer is written to SQLite (`wechat.sqlite` in the data directory) before anything is sent,
so an API outage or a restart loses nothing. Claiming, leases, back-off and giving up (by default
when WeChat's 48-hour customer-service window has closed) are the shared outbox engine's
(core/outbox.py); this module keeps the table, the queueing of an answer's parts and the async
sending loop. A user's messages go out in order (order column `touser`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, func, inspect, select, text, update
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from connectors.wechat.api_client import ApiError
from core.channel_settings import OutboxSettings
from core.clock import Clock, system_clock
from core.db import make_engine
from core.outbox import DELIVERED, FAILED, Attempt, Claim, OutboxColumns
from core.outbox import Outbox as Engine

log = logging.getLogger(__name__)


class _Base(DeclarativeBase):
    pass


class WeChatSend(OutboxColumns, _Base):
    """One part of one answer, with the outbox engine's columns."""

    __tablename__ = "wechat_sends"
    __table_args__ = (
        UniqueConstraint("msg_key", "part"),
        Index("ix_wechat_sends_due", "delivered_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[str] = mapped_column(String(64))
    touser: Mapped[str] = mapped_column(String(128), index=True)
    content: Mapped[str] = mapped_column(Text)
    msg_key: Mapped[str] = mapped_column(String(200))
    part: Mapped[int] = mapped_column(Integer)


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


def _load(_session: Session, row: WeChatSend) -> OutboxRow:
    return OutboxRow(row.id, row.app_id, row.touser, row.content, row.attempts, row.created_at)


Send = Callable[[OutboxRow], Awaitable[None]]


class Outbox:
    def __init__(self, path: Path, settings: OutboxSettings, *, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock
        self._engine = make_engine(f"sqlite:///{path}")
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        _Base.metadata.create_all(self._engine)
        _adopt_legacy_rows(self._engine, self._sessions)
        self.outbox = Engine(
            WeChatSend, settings.retry, load=_load, name="wechat.outbox", order_column="touser"
        )
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
                result = session.execute(insert(WeChatSend).values(**row).on_conflict_do_nothing())
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
        status = select(
            WeChatSend.delivered_at.is_not(None),
            WeChatSend.failed,
            WeChatSend.claim.is_not(None),
            func.count(),
        ).group_by(WeChatSend.delivered_at.is_not(None), WeChatSend.failed, WeChatSend.claim.is_not(None))
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
                s.execute(update(WeChatSend).where(WeChatSend.id == claim.id).values(content=""))
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
                    except ApiError as exc:
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
                log.exception("wechat.outbox.error")
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


def _adopt_legacy_rows(engine: Any, sessions: sessionmaker[Session]) -> None:
    """wechat.sqlite files written before the shared engine kept rows in `wechat_outbox`
    (status, epoch seconds): move the undelivered ones over once, then drop that table."""
    if "wechat_outbox" not in inspect(engine).get_table_names():
        return
    with sessions.begin() as session:
        legacy = session.execute(
            text(
                "SELECT app_id, touser, content, msg_key, part, attempts, next_at, created_at, last_error"
                " FROM wechat_outbox WHERE status IN ('pending', 'sending') ORDER BY id"
            )
        ).all()
        for app_id, touser, content, msg_key, part, attempts, next_at, created_at, error in legacy:
            session.execute(
                insert(WeChatSend)
                .values(
                    app_id=app_id,
                    touser=touser,
                    content=content,
                    msg_key=msg_key,
                    part=part,
                    attempts=attempts,
                    next_attempt_at=datetime.fromtimestamp(next_at, UTC),
                    created_at=datetime.fromtimestamp(created_at, UTC),
                    failed=False,
                    last_error=error or None,
                )
                .on_conflict_do_nothing()
            )
        session.execute(text("DROP TABLE wechat_outbox"))
        log.info("wechat.outbox.adopted", extra={"rows": len(legacy)})
