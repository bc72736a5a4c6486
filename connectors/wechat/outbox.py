"""A durable outbox for answers sent through WeChat's customer-service API.

An answer is written to SQLite before anything is sent, so an API outage or a restart loses
nothing: a background task sends due rows, marks delivered ones done, and retries failures with
exponential backoff until WeChat's 48-hour customer-service window closes. Rows are leased
(status 'sending' until `lease_until`) so that several workers never send the same row twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio

from connectors.wechat.api_client import ApiError
from core.channel_settings import OutboxSettings

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS wechat_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL,
    touser TEXT NOT NULL,
    content TEXT NOT NULL,
    msg_key TEXT NOT NULL,
    part INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    done_at REAL,
    last_error TEXT NOT NULL DEFAULT '',
    UNIQUE (msg_key, part)
);
CREATE INDEX IF NOT EXISTS wechat_outbox_due ON wechat_outbox (status, next_at);
"""


@dataclass(frozen=True)
class OutboxRow:
    id: int
    app_id: str
    touser: str
    content: str
    attempts: int
    created_at: float


Send = Callable[[OutboxRow], Awaitable[None]]


class Outbox:
    def __init__(self, path: Path, settings: OutboxSettings) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._wake: asyncio.Event | None = None  # made by run(), in the loop that drains
        self._stopping = False

    def add(self, *, app_id: str, touser: str, parts: list[str], msg_key: str) -> int:
        """Queue the parts of one answer; a second add for the same message is ignored."""
        now = time.time()
        added = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for number, content in enumerate(parts):
                    cursor = self._db.execute(
                        "INSERT OR IGNORE INTO wechat_outbox"
                        " (app_id, touser, content, msg_key, part, next_at, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (app_id, touser, content, msg_key, number, now, now),
                    )
                    added += cursor.rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return added

    async def put(self, *, app_id: str, touser: str, parts: list[str], msg_key: str) -> int:
        """`add` off the event loop (SQLite may wait for another worker's write), then wake the sender."""
        added = await anyio.to_thread.run_sync(
            lambda: self.add(app_id=app_id, touser=touser, parts=parts, msg_key=msg_key)
        )
        if self._wake is not None:
            self._wake.set()
        return added

    def counts(self) -> dict[str, int]:
        """Rows by status (for tests, metrics and `/-/`-style inspection)."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM wechat_outbox GROUP BY status").fetchall()
        return {status: count for status, count in rows}

    def _take_due(self, now: float, limit: int = 50) -> list[OutboxRow]:
        """Lease due rows to this worker, oldest first."""
        lease = now + self.settings.lease_seconds
        due = "(status = 'pending' AND next_at <= ?) OR (status = 'sending' AND lease_until < ?)"
        taken = []
        with self._lock:
            candidates = self._db.execute(
                f"SELECT id, app_id, touser, content, attempts, created_at FROM wechat_outbox"
                f" WHERE {due} ORDER BY id LIMIT ?",
                (now, now, limit),
            ).fetchall()
            for row in candidates:
                cursor = self._db.execute(
                    f"UPDATE wechat_outbox SET status = 'sending', lease_until = ? WHERE id = ? AND ({due})",
                    (lease, row[0], now, now),
                )
                if cursor.rowcount == 1:
                    taken.append(OutboxRow(*row))
        return taken

    def _mark_done(self, row: OutboxRow) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE wechat_outbox SET status = 'done', done_at = ?, attempts = attempts + 1,"
                " last_error = '' WHERE id = ?",
                (time.time(), row.id),
            )

    def _mark_failed(self, row: OutboxRow, error: ApiError, now: float) -> float:
        """Schedule the next attempt (or give up); returns when the row is due again."""
        attempts = row.attempts + 1
        expired = now - row.created_at > self.settings.give_up_hours * 3600
        delay = min(
            self.settings.backoff_base_seconds * 2 ** (attempts - 1), self.settings.backoff_max_seconds
        )
        status = "failed" if error.permanent or expired else "pending"
        with self._lock:
            self._db.execute(
                "UPDATE wechat_outbox SET status = ?, attempts = ?, next_at = ?, last_error = ? WHERE id = ?",
                (status, attempts, now + delay, str(error)[:500], row.id),
            )
        event = "wechat.outbox.gave_up" if status == "failed" else "wechat.outbox.retry"
        log.warning(event, extra={"row": row.id, "attempts": attempts, "error": str(error)})
        return now + delay

    def _postpone(self, row: OutboxRow, until: float) -> None:
        """Give a leased row back untouched, to keep a user's messages in order."""
        with self._lock:
            self._db.execute(
                "UPDATE wechat_outbox SET status = 'pending', next_at = ?, lease_until = 0 WHERE id = ?",
                (until, row.id),
            )

    async def drain_once(self, send: Send) -> int:
        """Send every due row once; returns how many were delivered.

        Rows this round leased but did not settle (stop requested, cancelled, unexpected error)
        are given back at once rather than waiting for their lease to run out.
        """
        delivered = 0
        blocked: dict[str, float] = {}  # a user whose earlier message failed waits with the rest
        run = anyio.to_thread.run_sync  # SQLite calls stay off the event loop
        unsettled = await run(self._take_due, time.time())
        try:
            while unsettled and not self._stopping:
                row = unsettled[0]
                if row.touser in blocked:
                    await run(self._postpone, row, blocked.get(row.touser, 0.0))
                    unsettled.pop(0)
                    continue
                try:
                    await send(row)
                except ApiError as exc:
                    blocked[row.touser] = await run(self._mark_failed, row, exc, time.time())
                    unsettled.pop(0)
                    continue
                await run(self._mark_done, row)
                unsettled.pop(0)
                delivered += 1
                log.info("wechat.outbox.sent", extra={"row": row.id, "app_id": row.app_id})
        finally:
            for row in unsettled:
                self._postpone(row, time.time())
        return delivered

    async def run(self, send: Send) -> None:
        """The background sender: drain, then sleep until the next poll, a new row or `request_stop`."""
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
        with self._lock:
            self._db.close()
