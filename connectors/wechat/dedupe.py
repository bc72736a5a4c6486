"""Which pushes were already taken, shared by every worker: WeChat retries a push three times
when it hears nothing within 5 s, and a retry must never produce a second answer or ticket.

A record is claimed once (SQLite INSERT OR IGNORE, or Redis SET NX) and later finished with the
outcome that retries should repeat (the passive reply text, or "answered elsewhere").
SQLite judges the TTL by the injected clock; Redis by its own key expiry.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Protocol

from core.clock import Clock, system_clock

PENDING = ""


class DedupeStore(Protocol):
    def claim(self, key: str) -> bool:
        """True for the first delivery of `key`; False for every later one within the TTL."""
        ...

    def finish(self, key: str, outcome: str) -> None:
        """Record what retries of `key` should get (a non-empty string)."""
        ...

    def outcome(self, key: str) -> str | None:
        """The finished outcome, or None while the first delivery is still being answered."""
        ...

    def release(self, key: str) -> None:
        """Forget `key`, so that a retry is handled afresh (the first delivery failed)."""
        ...


class SQLiteDedupe:
    """The default: a table in the data directory's wechat.sqlite (workers on one machine)."""

    def __init__(self, path: Path, ttl_seconds: int, *, clock: Clock = system_clock) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS wechat_dedupe"
            " (key TEXT PRIMARY KEY, outcome TEXT NOT NULL, created_at REAL NOT NULL)"
        )
        self._last_sweep = 0.0

    def claim(self, key: str) -> bool:
        now = self._clock().timestamp()
        with self._lock:
            if now - self._last_sweep > 60:
                self._db.execute("DELETE FROM wechat_dedupe WHERE created_at < ?", (now - self._ttl,))
                self._last_sweep = now
            else:
                self._db.execute(
                    "DELETE FROM wechat_dedupe WHERE key = ? AND created_at < ?", (key, now - self._ttl)
                )
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO wechat_dedupe (key, outcome, created_at) VALUES (?, ?, ?)",
                (key, PENDING, now),
            )
            return cursor.rowcount == 1

    def finish(self, key: str, outcome: str) -> None:
        with self._lock:
            self._db.execute("UPDATE wechat_dedupe SET outcome = ? WHERE key = ?", (outcome, key))

    def outcome(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT outcome FROM wechat_dedupe WHERE key = ?", (key,)).fetchone()
        return row[0] if row and row[0] != PENDING else None

    def release(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM wechat_dedupe WHERE key = ?", (key,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisDedupe:
    """With REDIS_URL: SET NX with expiry, shared by workers on every machine."""

    def __init__(self, url: str, ttl_seconds: int, prefix: str = "govbot:wechat:dedupe:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._ttl = ttl_seconds
        self._prefix = prefix

    def claim(self, key: str) -> bool:
        return bool(self._redis.set(self._prefix + key, PENDING, nx=True, ex=self._ttl))

    def finish(self, key: str, outcome: str) -> None:
        self._redis.set(self._prefix + key, outcome, xx=True, ex=self._ttl)

    def outcome(self, key: str) -> str | None:
        value = self._redis.get(self._prefix + key)
        if value is None:
            return None
        text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
        return text if text != PENDING else None

    def release(self, key: str) -> None:
        self._redis.delete(self._prefix + key)

    def close(self) -> None:
        self._redis.close()


def make_dedupe(
    *,
    data_dir: Path,
    redis_url: str,
    ttl_seconds: int,
    clock: Clock = system_clock,
    redis_prefix: str = "govbot:",
) -> SQLiteDedupe | RedisDedupe:
    if redis_url:  # under the deployment's prefix, so two deployments on one Redis keep apart
        return RedisDedupe(redis_url, ttl_seconds, prefix=f"{redis_prefix}wechat:dedupe:")
    return SQLiteDedupe(data_dir / "wechat.sqlite", ttl_seconds, clock=clock)
