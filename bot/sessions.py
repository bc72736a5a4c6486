"""Session context, so that 需要什么材料？ after an answer refers to the same item.

Stored in SQLite under the data directory by default; with REDIS_URL set, in
Redis, so that several workers or machines see the same conversation. A session expires
`ttl_minutes` after its last write, judged by the injected clock in both stores (Redis's
own expiry only clears the key away), so tests move time instead of sleeping.
While Redis cannot be reached, conversations live in this process's memory (a warning and
`govbot_degraded_total`), so the chat keeps answering; they go back to Redis when it returns.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field

from bot.messages import Option
from bot.ticket_form import TicketForm
from core import degraded
from core.clock import Clock, system_clock
from core.crypto import Keyring
from core.files import ensure_private

REDIS_RETRY_SECONDS = 5  # after a failure, skip Redis this long (no connect timeout per message)


class SessionState(BaseModel):
    last_item_id: str | None = None
    last_action: str | None = None
    options: list[Option] = Field(default_factory=list)
    turns: int = 0
    updated_at: float = 0.0
    form: TicketForm | None = None  # a ticket being collected, one question per turn
    offer_ticket: bool = False  # the last reply offered a ticket; 好的 starts the form
    pending_ticket_no: str | None = None  # status asked; waiting for the phone's last 4 digits
    rating_for: str | None = None  # a closed ticket waiting for a 1-5 satisfaction score
    handoff_id: int | None = None  # a live conversation with an agent (waiting or taken)
    handoff_token: str | None = None  # the citizen's key to that conversation's events
    transcript: list[tuple[str, str]] = Field(default_factory=list)  # (citizen|bot, text), latest turns


class SessionStore(Protocol):
    def get(self, session_id: str) -> SessionState: ...

    def put(self, session_id: str, state: SessionState) -> None: ...

    def close(self) -> None: ...


def _sealed(state: SessionState, ring: Keyring) -> str:
    """A state as stored: sealed (core/crypto.py), since a ticket form holds phone and name."""
    return ring.seal(state.model_dump_json())


def _opened(raw: str | bytes, ring: Keyring) -> SessionState:
    text = raw.decode() if isinstance(raw, bytes) else raw
    return SessionState.model_validate_json(ring.open(text))


class SqliteSessionStore:
    def __init__(
        self, path: Path, ttl_minutes: int, *, keyring: Keyring, clock: Clock = system_clock
    ) -> None:
        ensure_private(path)  # 0600 from creation on
        self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # One write per turn; with WAL, NORMAL skips that write's fsync (a power cut may lose the
        # last turns' context, never corrupt the file): it was ~17 ms of every answer.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, state TEXT NOT NULL, "
            "updated_at REAL NOT NULL)"
        )
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(sessions)")}
        if "has_form" not in columns:  # the retention sweep finds abandoned forms by it
            self._conn.execute("ALTER TABLE sessions ADD COLUMN has_form INTEGER NOT NULL DEFAULT 0")
        self.ttl_seconds = ttl_minutes * 60
        self.clock = clock
        self.keyring = keyring

    def get(self, session_id: str) -> SessionState:
        row = self._conn.execute(
            "SELECT state, updated_at FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if row is None or self.clock().timestamp() - row[1] > self.ttl_seconds:
            return SessionState()
        return _opened(row[0], self.keyring)

    def put(self, session_id: str, state: SessionState) -> None:
        state.updated_at = self.clock().timestamp()
        self._write(session_id, state)

    def _write(self, session_id: str, state: SessionState) -> None:
        with self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO sessions (id, state, updated_at, has_form) VALUES (?, ?, ?, ?)",
                (session_id, _sealed(state, self.keyring), state.updated_at, state.form is not None),
            )

    def sweep(self, *, sessions_before: float, forms_before: float) -> tuple[int, int]:
        """Retention: delete sessions whose last turn is older than `sessions_before`, and wipe
        the ticket form from those whose last turn is older than `forms_before` (timestamps);
        returns (sessions deleted, forms wiped)."""
        with self._conn:
            deleted = self._conn.execute(
                "DELETE FROM sessions WHERE updated_at < ?", (sessions_before,)
            ).rowcount
        stale = self._conn.execute(
            "SELECT id, state FROM sessions WHERE has_form AND updated_at < ?", (forms_before,)
        ).fetchall()
        for session_id, raw in stale:
            state = _opened(raw, self.keyring)
            state.form = None  # the rest (last item, options) is no personal data
            self._write(session_id, state)
        return deleted, len(stale)

    def close(self) -> None:
        self._conn.close()


class MemorySessionStore:
    """This process's memory: only the fallback while Redis is down (bounded, oldest dropped)."""

    MAX_SESSIONS = 10_000

    def __init__(self, ttl_minutes: int, *, clock: Clock = system_clock) -> None:
        self.ttl_seconds = ttl_minutes * 60
        self.clock = clock
        self._states: dict[str, str] = {}

    def get(self, session_id: str) -> SessionState:
        raw = self._states.get(session_id)
        if raw is None:
            return SessionState()
        state = SessionState.model_validate_json(raw)
        return state if self.clock().timestamp() - state.updated_at <= self.ttl_seconds else SessionState()

    def put(self, session_id: str, state: SessionState) -> None:
        self._states.pop(session_id, None)
        if len(self._states) >= self.MAX_SESSIONS:
            self._states.pop(next(iter(self._states)))
        self._states[session_id] = state.model_dump_json()

    def drop(self, session_id: str) -> None:
        self._states.pop(session_id, None)

    def close(self) -> None:
        self._states.clear()


class RedisSessionStore:
    """Sessions in Redis under `<prefix><id>` (`govbot:session:<id>`), expiring after the TTL.

    Every write renews the TTL, so a conversation lives as long as it stays active."""

    def __init__(
        self,
        url: str,
        ttl_minutes: int,
        prefix: str = "govbot:session:",
        *,
        keyring: Keyring,
        clock: Clock = system_clock,
    ) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._errors: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
        self._prefix = prefix
        self.ttl_seconds = ttl_minutes * 60
        self.clock = clock
        self.keyring = keyring
        self.fallback = MemorySessionStore(ttl_minutes, clock=clock)
        self._down_until = 0.0

    def _down(self, exc: Exception | None) -> None:
        if exc is not None:
            self._down_until = self.clock().timestamp() + REDIS_RETRY_SECONDS
        degraded.report("redis", "sessions", exc)

    def get(self, session_id: str) -> SessionState:
        if self.clock().timestamp() < self._down_until:
            self._down(None)
            return self.fallback.get(session_id)
        try:
            raw = self._redis.get(self._prefix + session_id)
        except self._errors as exc:
            self._down(exc)
            return self.fallback.get(session_id)
        if raw is None:
            return self.fallback.get(session_id)  # a conversation held in memory during an outage
        state = _opened(raw, self.keyring)  # type: ignore[arg-type]
        if self.clock().timestamp() - state.updated_at > self.ttl_seconds:
            return SessionState()
        return state

    def put(self, session_id: str, state: SessionState) -> None:
        now = self.clock().timestamp()
        state.updated_at = now
        if now >= self._down_until:
            try:
                self._redis.set(self._prefix + session_id, _sealed(state, self.keyring), ex=self.ttl_seconds)
                self.fallback.drop(session_id)
                return
            except self._errors as exc:
                self._down(exc)
        self.fallback.put(session_id, state)

    def close(self) -> None:
        self._redis.close()


def open_session_store(
    sqlite_path: Path,
    ttl_minutes: int,
    redis_url: str = "",
    redis_prefix: str = "govbot:",
    *,
    keyring: Keyring,
    clock: Clock = system_clock,
) -> SessionStore:
    """Redis when a URL is configured (shared by workers), SQLite under the data dir otherwise;
    either way the states are sealed with `keyring` (the memory fallback holds them in clear:
    it is not at rest)."""
    if redis_url:
        return RedisSessionStore(
            redis_url, ttl_minutes, prefix=f"{redis_prefix}session:", keyring=keyring, clock=clock
        )
    return SqliteSessionStore(sqlite_path, ttl_minutes, keyring=keyring, clock=clock)
